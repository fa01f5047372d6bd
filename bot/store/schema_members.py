"""Forward-only migrations of the member directory (bot/store/members.py)."""

from __future__ import annotations

MEMBERS_V1 = """
CREATE TABLE member_profiles (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    PRIMARY KEY (platform, user_id)
);
CREATE INDEX member_profiles_seen ON member_profiles(last_seen_at);
CREATE TABLE member_names (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id, name)
);
CREATE TABLE member_tags (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'manual',
    actor TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, user_id, tag)
);
CREATE INDEX member_tags_tag ON member_tags(tag);
CREATE TABLE member_notes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX member_notes_member ON member_notes(platform, user_id);
ALTER TABLE members ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
CREATE INDEX members_by_member ON members(platform, member_id);
CREATE TABLE member_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO member_state(id, version) VALUES (1, 0)
"""

# An existing database's members and messages, brought into the directory once: message
# counts per chat from `messages` (one scan at the upgrade), profiles and names from the
# chats' member rows. The bare `sender_name` / `name` columns take the latest row's value.
MEMBERS_V2 = """
INSERT INTO members(platform, chat_id, member_id, name, last_seen_at, messages)
SELECT m.platform, m.chat_id, m.sender_id, m.sender_name, max(m.time), count(*) FROM messages m
 WHERE m.direction = 'in' AND m.type = 'message' AND m.sender_id != ''
 AND EXISTS (SELECT 1 FROM chats c WHERE c.platform = m.platform AND c.chat_id = m.chat_id)
 GROUP BY m.platform, m.chat_id, m.sender_id
ON CONFLICT(platform, chat_id, member_id) DO UPDATE SET messages = excluded.messages,
 name = CASE WHEN members.name = '' THEN excluded.name ELSE members.name END,
 last_seen_at = MAX(COALESCE(members.last_seen_at, ''), excluded.last_seen_at);
INSERT OR IGNORE INTO member_profiles(platform, user_id, name, first_seen_at, last_seen_at, messages)
SELECT platform, member_id, name, min(COALESCE(joined_at, last_seen_at, '')),
 max(COALESCE(last_seen_at, joined_at, '')), sum(messages) FROM members GROUP BY platform, member_id;
INSERT OR IGNORE INTO member_names(platform, user_id, name, first_seen_at, last_seen_at)
SELECT platform, member_id, name, min(COALESCE(joined_at, last_seen_at, '')),
 max(COALESCE(last_seen_at, joined_at, '')) FROM members WHERE name != '' GROUP BY platform, member_id, name
"""

# Member-tag targets of things other domains own (an FAQ entry for VIP members only): kept
# here so the FAQ's own tables keep their schema.
MEMBERS_V3 = """
CREATE TABLE member_targets (
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (kind, target_id)
)
"""

# The directory's pages are ordered by last seen, then platform and user id (a stable order for
# paging): an index on all three serves the order without sorting 100k rows, and a deep
# page walks the index alone (bench/bench_members.py).
MEMBERS_V4 = """
DROP INDEX member_profiles_seen;
CREATE INDEX member_profiles_seen ON member_profiles(last_seen_at, platform, user_id);
CREATE INDEX member_profiles_user ON member_profiles(user_id);
DROP INDEX member_tags_tag;
CREATE INDEX member_tags_tag ON member_tags(tag, platform, user_id)
"""


MIGRATIONS = (MEMBERS_V1, MEMBERS_V2, MEMBERS_V3, MEMBERS_V4)
