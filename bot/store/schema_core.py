"""Forward-only migrations of the core tables (chats, members, messages, outbox, accounts)."""

from __future__ import annotations

from bot.store.base import Repo

CORE_V1 = """
CREATE TABLE chats (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'group',
    name TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
CREATE INDEX chats_name ON chats(name);
CREATE TABLE members (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    is_moderator INTEGER NOT NULL DEFAULT 0,
    joined_at TEXT,
    left_at TEXT,
    last_seen_at TEXT,
    PRIMARY KEY (platform, chat_id, member_id),
    FOREIGN KEY (platform, chat_id) REFERENCES chats(platform, chat_id) ON DELETE CASCADE
);
CREATE TABLE messages (
    uid TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    message_id TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_kind TEXT NOT NULL,
    direction TEXT NOT NULL DEFAULT 'in',
    type TEXT NOT NULL DEFAULT 'message',
    sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL DEFAULT '',
    time TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    truncated INTEGER NOT NULL DEFAULT 0,
    mentions TEXT NOT NULL DEFAULT '[]',
    attachments TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'received',
    raw TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_chat_time ON messages(platform, chat_id, time);
CREATE INDEX messages_time ON messages(time);
CREATE INDEX messages_sender ON messages(platform, chat_id, sender_id, time);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    message_uid TEXT NOT NULL,
    time TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    trace TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX decisions_message ON decisions(message_uid);
CREATE INDEX decisions_stage_time ON decisions(stage, outcome, time);
CREATE TABLE outbound (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    chat_kind TEXT NOT NULL DEFAULT 'group',
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    not_after TEXT,
    reply_to TEXT,
    error TEXT NOT NULL DEFAULT '',
    platform_message_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (source, occurrence, platform, chat_id)
);
CREATE INDEX outbound_status ON outbound(status, next_attempt_at);
CREATE INDEX outbound_source ON outbound(source, occurrence);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_time ON audit_log(time);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""


# A member's recent messages (the review page) are found by walking the chat's entries of
# one index, which carries the sender: an index keyed by (chat, sender) cost ~20 µs per
# recorded message once `messages` held 500k rows, as its inserts land all over the B-tree,
# while the chat's entries are appended in time order (bench/bench_recording.py).
CORE_V2 = """
DROP INDEX messages_sender;
DROP INDEX messages_chat_time;
CREATE INDEX messages_chat_time_sender ON messages(platform, chat_id, time, sender_id)
"""


# Whether a message was addressed to the bot: a message recorded but not handled before a
# crash is handled at the next start from its row, and "@bot" decides some answers.
CORE_V3 = """
ALTER TABLE messages ADD COLUMN to_me INTEGER NOT NULL DEFAULT 0
"""


class CoreSchema(Repo):
    COMPONENT = "core"
    MIGRATIONS = (CORE_V1, CORE_V2, CORE_V3)
