"""Keyword auto-replies and welcome messages."""
