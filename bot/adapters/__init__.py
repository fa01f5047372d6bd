"""Adapters: thin translations between a platform's wire format and Event / outbox actions."""
