"""Demo lexicon: a few words per category so the simulator shows moderation from the start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from moderation.evaluate import split_words
from moderation.wordfile import parse

if TYPE_CHECKING:
    from bot.store import Store

DEMO_WORDS = Path(__file__).parent / "demo_words.txt"


def seed_demo_words(store: Store) -> int:
    """Import the demo word list once, into an empty lexicon; returns the number of words added."""
    if store.lexicon.list_words(limit=1):
        return 0
    words, allow, domains = split_words(parse(DEMO_WORDS.read_bytes(), source="demo").words)
    added, _ = store.lexicon.add_words(words)
    for value in allow:
        store.lexicon.add_allow("word", value)
    for value in domains:
        store.lexicon.add_allow("domain", value)
    return added
