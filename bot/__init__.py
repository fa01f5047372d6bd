"""qunbot: a self-hosted group-chat assistant for community operations."""

__version__ = "0.1.0"
