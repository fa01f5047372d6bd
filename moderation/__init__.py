"""Moderation: normalisation, lexicon, spam rules, review queue, strikes."""
