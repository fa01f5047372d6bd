"""Campaigns and recurring posts, handed to the outbox exactly once."""
