"""Forward-only migrations of the moderation tables: lexicon, allowlists and spam samples
(bot/store/lexicon.py), flags and strikes (bot/store/moderation.py). One component, so
existing databases keep upgrading along the same version numbers."""

from __future__ import annotations

from bot.store.base import Repo

MODERATION_V1 = """
CREATE TABLE moderation_words (
    id INTEGER PRIMARY KEY,
    word TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL DEFAULT '其他',
    severity INTEGER NOT NULL DEFAULT 2,
    action TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX moderation_words_category ON moderation_words(category);
CREATE TABLE moderation_allow (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
);
CREATE TABLE moderation_flags (
    id INTEGER PRIMARY KEY,
    message_uid TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_name TEXT NOT NULL DEFAULT '',
    member_id TEXT NOT NULL,
    member_name TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL,
    rule TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    word TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    hits TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '{}',
    decided_by TEXT,
    decided_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX moderation_flags_status ON moderation_flags(status, time);
CREATE INDEX moderation_flags_member ON moderation_flags(platform, chat_id, member_id, time);
CREATE TABLE moderation_strikes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    time TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    step TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    flag_id INTEGER,
    source TEXT NOT NULL DEFAULT 'auto',
    actor TEXT NOT NULL DEFAULT '',
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX moderation_strikes_member ON moderation_strikes(platform, chat_id, member_id, expires_at);
CREATE TABLE moderation_samples (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    label INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
)
"""


class ModerationSchema(Repo):
    COMPONENT = "moderation"
    MIGRATIONS = (MODERATION_V1,)
