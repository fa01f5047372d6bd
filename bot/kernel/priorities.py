"""Outbox priorities: lower goes first. Domains set them on the rows they hand to the outbox."""

from __future__ import annotations

# ahead of replies and posts: a recall is worth most in its first seconds
ACTION_PRIORITY = -1
REPLY_PRIORITY = 0
BROADCAST_PRIORITY = 10

# an outbox payload with {BULK_KEY: True} is a bulk send (broadcasts, posts, campaigns, SOP steps):
# the outbox paces it per account ([sending], bot/kernel/pacing.py); replies and actions never set it
BULK_KEY = "bulk"
