"""The member directory: one profile per person per platform (`PLATFORM:USER_ID`), their
display names over time, tags and staff notes, on top of the per-chat `members` rows of the
core schema (which gain a message count here).

Recording: the recorder sums what it saw per (platform, chat, sender) and hands the sums to
`record_seen` every second or so, one upsert per member seen, not one per message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import Repo, dumps, execute_rows, iso, loads, reads, utcnow

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

# the chunk of a multi-row upsert (execute_rows) per table
_CHAT_UPSERT = (
    "INSERT INTO members(platform, chat_id, member_id, name, last_seen_at, messages) VALUES ",
    " ON CONFLICT(platform, chat_id, member_id) DO UPDATE SET"
    " name = CASE WHEN excluded.name = '' THEN members.name ELSE excluded.name END,"
    " last_seen_at = MAX(COALESCE(members.last_seen_at, ''), excluded.last_seen_at),"
    " messages = members.messages + excluded.messages",
)
_PROFILE_UPSERT = (
    "INSERT INTO member_profiles(platform, user_id, name, first_seen_at, last_seen_at, messages) VALUES ",
    " ON CONFLICT(platform, user_id) DO UPDATE SET"
    " name = CASE WHEN excluded.name = '' THEN member_profiles.name ELSE excluded.name END,"
    " first_seen_at = MIN(member_profiles.first_seen_at, excluded.first_seen_at),"
    " last_seen_at = MAX(member_profiles.last_seen_at, excluded.last_seen_at),"
    " messages = member_profiles.messages + excluded.messages",
)
_NAME_UPSERT = (
    "INSERT INTO member_names(platform, user_id, name, first_seen_at, last_seen_at) VALUES ",
    " ON CONFLICT(platform, user_id, name) DO UPDATE SET"
    " last_seen_at = MAX(member_names.last_seen_at, excluded.last_seen_at)",
)
_BUMP = "UPDATE member_state SET version = version + 1 WHERE id = 1"

# Platforms whose user ids are scoped to one group (the QQ official bot's member openids):
# the same person has another id in every group, so such members are listed per group and
# left out of brand-wide actions (blacklist). The qq adapter declares the platform name.
GROUP_SCOPED_PLATFORMS = frozenset({"qq"})

# a member seen by the recorder: (platform, chat_id, user_id, name, messages, first, last)
SeenRow = tuple[str, str, str, str, int, str, str]


class MemberRefError(ValueError):
    """A member reference that is not `PLATFORM:USER_ID`."""


def parse_ref(ref: str) -> tuple[str, str]:
    """`onebot:10001` -> ("onebot", "10001"); MemberRefError (zh-CN) when malformed."""
    platform, sep, user_id = (ref or "").strip().partition(":")
    if not sep or not platform or not user_id:
        raise MemberRefError(f"成员编号 {ref!r} 格式不对，应为 平台:用户ID（如 onebot:10001）")
    return platform, user_id


def make_ref(platform: str, user_id: str) -> str:
    return f"{platform}:{user_id}"


class MemberRepo(Repo):
    """Member profiles, names, tags and notes (the `members` schema component)."""

    COMPONENT = "members"
    MIGRATIONS = (MEMBERS_V1, MEMBERS_V2, MEMBERS_V3)

    # -- recording -------------------------------------------------------------------

    def record_seen(self, rows: Sequence[SeenRow]) -> None:
        """Members the recorder saw since the last call, summed per (platform, chat, sender)."""
        if not rows:
            return
        profiles: dict[tuple[str, str], list[Any]] = {}
        names: dict[tuple[str, str, str], list[str]] = {}
        for platform, _chat, user_id, name, count, first, last in rows:
            p = profiles.get((platform, user_id))
            if p is None:
                profiles[(platform, user_id)] = [platform, user_id, name, first, last, count]
            else:
                if name and last >= p[4]:
                    p[2] = name
                p[3], p[4], p[5] = min(p[3], first), max(p[4], last), p[5] + count
            if name:
                n = names.get((platform, user_id, name))
                if n is None:
                    names[(platform, user_id, name)] = [platform, user_id, name, first, last]
                else:
                    n[3], n[4] = min(n[3], first), max(n[4], last)
        with self.tx() as conn:
            execute_rows(conn, _CHAT_UPSERT[0], [(p, c, u, n, last, k) for p, c, u, n, k, _f, last in rows],
                         _CHAT_UPSERT[1])
            execute_rows(conn, _PROFILE_UPSERT[0], list(profiles.values()), _PROFILE_UPSERT[1])
            if names:
                execute_rows(conn, _NAME_UPSERT[0], list(names.values()), _NAME_UPSERT[1])

    def upsert(self, platform: str, chat_id: str, user_id: str, name: str = "", *, joined: bool = False,
               left: bool = False, at: datetime | None = None, chat_kind: str = "group") -> None:
        """A member seen in a chat (joined, left or spoke): the chat's member row and the profile."""
        now = iso(at or utcnow())
        with self.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO chats(platform, chat_id, kind, name, tags, created_at, updated_at)"
                " VALUES (?, ?, ?, '', '[]', ?, ?)", (platform, chat_id, chat_kind, now, now),
            )
            conn.execute(
                "INSERT INTO members(platform, chat_id, member_id, name, joined_at, left_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(platform, chat_id, member_id) DO UPDATE SET"
                "  name = CASE WHEN excluded.name = '' THEN members.name ELSE excluded.name END,"
                "  joined_at = COALESCE(excluded.joined_at, members.joined_at),"
                "  left_at = CASE WHEN ? THEN NULL ELSE COALESCE(excluded.left_at, members.left_at) END,"
                "  last_seen_at = excluded.last_seen_at",
                (platform, chat_id, user_id, name, now if joined else None, now if left else None, now,
                 int(joined)),
            )
            self.record_profile(conn, platform, user_id, name, now)

    def record_profile(self, conn: sqlite3.Connection, platform: str, user_id: str, name: str, now: str) -> None:
        execute_rows(conn, _PROFILE_UPSERT[0], [(platform, user_id, name, now, now, 0)], _PROFILE_UPSERT[1])
        if name:
            execute_rows(conn, _NAME_UPSERT[0], [(platform, user_id, name, now, now)], _NAME_UPSERT[1])

    # -- change detection (the CLI and a second console change tags while the bot runs) ----

    @reads
    def version(self) -> int:
        return self.scalar("SELECT version FROM member_state WHERE id = 1") or 0

    # -- tags --------------------------------------------------------------------------

    def add_tags(self, pairs: Iterable[tuple[str, str, str]], *, source: str = "manual", actor: str = "",
                 bump: bool = True) -> int:
        """(platform, user_id, tag) triples; a tag already there is kept as it is. Returns added."""
        now = iso(utcnow())
        rows = [(p, u, t, source, actor, now) for p, u, t in pairs]
        if not rows:
            return 0
        with self.tx() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO member_tags(platform, user_id, tag, source, actor, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", rows,
            )
            added = conn.total_changes - before
            if added and bump:
                conn.execute(_BUMP)
            return added

    def remove_tags(self, pairs: Iterable[tuple[str, str, str]], *, source: str | None = None,
                    bump: bool = True) -> int:
        """Remove (platform, user_id, tag); with `source`, only tags that source gave."""
        sql = "DELETE FROM member_tags WHERE platform = ? AND user_id = ? AND tag = ?"
        rows = [tuple(p) for p in pairs]
        if source is not None:
            sql += " AND source = ?"
            rows = [(*r, source) for r in rows]
        if not rows:
            return 0
        with self.tx() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            removed = conn.total_changes - before
            if removed and bump:
                conn.execute(_BUMP)
            return removed

    def bump(self) -> None:
        with self.tx() as conn:
            conn.execute(_BUMP)

    def set_rule_tags(self, tags: list[str]) -> None:
        """The tags `[[member_tags]]` rules give (known before any member has them)."""
        with self.tx() as conn:
            conn.execute("INSERT INTO kv(key, value) VALUES ('members.rule_tags', ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (dumps(sorted(set(tags))),))

    @reads
    def known_tags(self) -> set[str]:
        """Tags some member has, and the ones rules give."""
        with self.lock:
            have = {r[0] for r in self.conn.execute("SELECT DISTINCT tag FROM member_tags")}
        return have | set(loads(self.scalar("SELECT value FROM kv WHERE key = 'members.rule_tags'"), []))

    @reads
    def tags_of(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT tag, source, actor, created_at FROM member_tags WHERE platform = ? AND user_id = ?"
            " ORDER BY tag", (platform, user_id),
        )

    @reads
    def all_member_tags(self) -> dict[tuple[str, str], frozenset[str]]:
        """Every tagged member's tags (the running bot keeps this in memory for targeting)."""
        out: dict[tuple[str, str], set[str]] = {}
        with self.lock:
            for platform, user_id, tag in self.conn.execute("SELECT platform, user_id, tag FROM member_tags"):
                out.setdefault((platform, user_id), set()).add(tag)
        return {k: frozenset(v) for k, v in out.items()}

    @reads
    def tag_counts(self) -> dict[str, int]:
        return {r["tag"]: r["n"] for r in self.query(
            "SELECT tag, count(*) AS n FROM member_tags GROUP BY tag ORDER BY tag")}

    @reads
    def tagged_with(self, tag: str, source: str | None = None) -> list[tuple[str, str]]:
        sql, params = "SELECT platform, user_id FROM member_tags WHERE tag = ?", [tag]
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        with self.lock:
            return [(p, u) for p, u in self.conn.execute(sql, params)]

    def retag_silent(self, tag: str, cutoff: str) -> int:
        """A `silent_days` rule: members last seen before `cutoff` get `tag`, the rule's other
        holders lose it (a manual tag of the same name stays). Returns the changes."""
        return self._retag(tag, "SELECT platform, user_id FROM member_profiles WHERE last_seen_at < ?"
                           " AND deleted_at IS NULL", (cutoff,))

    def retag_active(self, tag: str, since: str, messages: int) -> int:
        """An `active_messages` rule: at least `messages` messages since `since`."""
        return self._retag(
            tag, "SELECT platform, sender_id FROM messages WHERE time >= ? AND direction = 'in'"
            " AND type = 'message' GROUP BY platform, sender_id HAVING count(*) >= ?", (since, messages))

    def _retag(self, tag: str, members_sql: str, params: tuple[Any, ...]) -> int:
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS retag(platform TEXT, user_id TEXT,"
                         " PRIMARY KEY (platform, user_id))")
            conn.execute("DELETE FROM temp.retag")
            conn.execute(f"INSERT OR IGNORE INTO temp.retag {members_sql}", params)
            removed = conn.execute(
                "DELETE FROM member_tags WHERE tag = ? AND source = 'rule'"
                " AND (platform, user_id) NOT IN (SELECT platform, user_id FROM temp.retag)", (tag,)).rowcount
            added = conn.execute(
                "INSERT OR IGNORE INTO member_tags(platform, user_id, tag, source, actor, created_at)"
                " SELECT platform, user_id, ?, 'rule', 'rule', ? FROM temp.retag", (tag, now)).rowcount
            conn.execute("DELETE FROM temp.retag")
            return removed + added

    # -- member-tag targets (faq entries, welcomes, posts) ------------------------------------

    def set_target(self, kind: str, target_id: str, tags: list[str]) -> None:
        with self.tx() as conn:
            if tags:
                conn.execute("INSERT INTO member_targets(kind, target_id, tags) VALUES (?, ?, ?)"
                             " ON CONFLICT(kind, target_id) DO UPDATE SET tags = excluded.tags",
                             (kind, target_id, dumps(sorted(set(tags)))))
            else:
                conn.execute("DELETE FROM member_targets WHERE kind = ? AND target_id = ?", (kind, target_id))

    @reads
    def targets(self, kind: str) -> dict[str, list[str]]:
        return {r["target_id"]: loads(r["tags"], []) for r in self.query(
            "SELECT target_id, tags FROM member_targets WHERE kind = ?", (kind,))}

    # -- notes -------------------------------------------------------------------------

    def add_note(self, platform: str, user_id: str, text: str, actor: str) -> int:
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT INTO member_notes(platform, user_id, text, actor, created_at) VALUES (?, ?, ?, ?, ?)",
                (platform, user_id, text, actor, iso(utcnow())),
            )
            return int(cur.lastrowid or 0)

    @reads
    def notes(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, text, actor, created_at FROM member_notes WHERE platform = ? AND user_id = ?"
            " ORDER BY id DESC", (platform, user_id),
        )

    # -- reading -----------------------------------------------------------------------

    @reads
    def get(self, platform: str, user_id: str) -> dict[str, Any] | None:
        """A profile, or None for a member never seen (and never tagged)."""
        row = self.query_one("SELECT * FROM member_profiles WHERE platform = ? AND user_id = ?", (platform, user_id))
        if row is None:
            return None
        row["ref"] = make_ref(platform, user_id)
        return row

    @reads
    def exists(self, platform: str, user_id: str) -> bool:
        return self.scalar(
            "SELECT 1 FROM member_profiles WHERE platform = ? AND user_id = ?", (platform, user_id)) is not None

    @reads
    def names(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        return self.query(
            "SELECT name, first_seen_at, last_seen_at FROM member_names WHERE platform = ? AND user_id = ?"
            " ORDER BY last_seen_at DESC", (platform, user_id),
        )

    @reads
    def groups(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        """The chats a member was seen in, with the chat's name and tags."""
        rows = self.query(
            "SELECT m.chat_id, c.name AS chat_name, c.kind, c.tags, m.name, m.joined_at, m.left_at,"
            " m.last_seen_at, m.messages, m.is_moderator FROM members m"
            " JOIN chats c ON c.platform = m.platform AND c.chat_id = m.chat_id"
            " WHERE m.platform = ? AND m.member_id = ? ORDER BY m.last_seen_at DESC", (platform, user_id),
        )
        for r in rows:
            r["tags"] = loads(r["tags"], [])
        return rows

    @reads
    def strikes(self, platform: str, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Strikes in every chat (the moderation tables), newest first."""
        chats = [r["chat_id"] for r in self.query(
            "SELECT chat_id FROM members WHERE platform = ? AND member_id = ?", (platform, user_id))]
        if not chats:
            return []
        marks = ",".join("?" * len(chats))
        return self.query(
            f"SELECT * FROM moderation_strikes WHERE platform = ? AND chat_id IN ({marks}) AND member_id = ?"
            " ORDER BY time DESC LIMIT ?", (platform, *chats, user_id, limit),
        )

    @reads
    def is_blacklisted(self, ref: str) -> bool:
        """Whether the brand-wide blacklist (table `blacklist`, the moderation area's) holds `ref`;
        False while that table does not exist."""
        if self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blacklist'") is None:
            return False
        return self.scalar("SELECT 1 FROM blacklist WHERE ref = ?", (ref,)) is not None

    @reads
    def recent_messages(self, platform: str, user_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """A member's latest messages across their chats, with the deciding stage of each."""
        out: list[dict[str, Any]] = []
        for chat in self.query("SELECT chat_id FROM members WHERE platform = ? AND member_id = ?",
                               (platform, user_id)):
            out += self.query(
                "SELECT uid, chat_id, time, text, status FROM messages WHERE platform = ? AND chat_id = ?"
                " AND sender_id = ? AND direction = 'in' ORDER BY time DESC LIMIT ?",
                (platform, chat["chat_id"], user_id, limit),
            )
        out.sort(key=lambda r: r["time"], reverse=True)
        out = out[:limit]
        for r in out:
            d = self.query_one(
                "SELECT stage, outcome, reason FROM decisions WHERE message_uid = ? ORDER BY id DESC LIMIT 1",
                (r["uid"],),
            )
            r["decision"] = d or {}
        return out

    @reads
    def search(self, *, text: str = "", chat: tuple[str, str] | None = None, tag: str = "",
               muted_at: datetime | None = None, blacklisted: bool = False, silent_days: int = 0,
               now: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of members, most recently seen first, and how many match."""
        where, params = ["1=1"], []
        if text:
            # the names table holds every name, the current one too: one scan of it, not one
            # lookup per member
            where.append("(p.user_id = ? OR (p.platform, p.user_id) IN (SELECT platform, user_id FROM member_names"
                         " WHERE name LIKE ? ESCAPE '\\'))")
            params += [text, f"%{_escape_like(text)}%"]
        if chat:
            where.append("(p.platform, p.user_id) IN (SELECT platform, member_id FROM members"
                         " WHERE platform = ? AND chat_id = ? AND left_at IS NULL)")
            params += list(chat)
        if tag:
            where.append("(p.platform, p.user_id) IN (SELECT platform, user_id FROM member_tags WHERE tag = ?)")
            params.append(tag)
        if muted_at is not None:
            where.append(f"(p.platform, p.user_id) IN ({MUTED_SQL})")
            params.append(_julian(muted_at))
        if blacklisted:
            if self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blacklist'") is None:
                return [], 0
            where.append("(p.platform || ':' || p.user_id) IN (SELECT ref FROM blacklist)")
        if silent_days > 0:
            where.append("p.last_seen_at < ?")
            params.append(iso((now or utcnow()) - timedelta(days=silent_days)))
        sql_where = " AND ".join(where)
        total = self.scalar(f"SELECT count(*) FROM member_profiles p WHERE {sql_where}", params)
        rows = self.query(
            f"SELECT p.* FROM member_profiles p WHERE {sql_where} ORDER BY p.last_seen_at DESC,"
            " p.platform, p.user_id LIMIT ? OFFSET ?", [*params, limit, offset],
        )
        if rows:
            self._attach_tags(rows)
        for r in rows:
            r["ref"] = make_ref(r["platform"], r["user_id"])
        return rows, total

    def _attach_tags(self, rows: list[dict[str, Any]]) -> None:
        keys = {(r["platform"], r["user_id"]): r for r in rows}
        for r in rows:
            r["tags"] = []
        marks = ",".join("(?, ?)" for _ in keys)
        for t in self.query(
            f"SELECT platform, user_id, tag FROM member_tags WHERE (platform, user_id) IN (VALUES {marks})"
            " ORDER BY tag", [v for k in keys for v in k],
        ):
            keys[(t["platform"], t["user_id"])]["tags"].append(t["tag"])

    @reads
    def muted_until(self, platform: str, user_id: str, now: datetime) -> str | None:
        """When the member's latest unexpired mute (a strike with a mute step) ends, if any."""
        ends = []
        for s in self.strikes(platform, user_id):
            end = mute_end(s)
            if end is not None and end > now and not s["revoked"]:
                ends.append(end)
        return iso(max(ends)) if ends else None

    # -- a member's own data ------------------------------------------------------------

    @reads
    def export(self, platform: str, user_id: str) -> dict[str, Any]:
        """Everything stored about one member, for `member export` (personal-data requests)."""
        chats = [g["chat_id"] for g in self.groups(platform, user_id)]
        messages: list[dict[str, Any]] = []
        for chat_id in chats:
            messages += self.query(
                "SELECT uid, chat_id, time, type, text, status FROM messages WHERE platform = ? AND chat_id = ?"
                " AND sender_id = ? AND direction = 'in' ORDER BY time", (platform, chat_id, user_id),
            )
        for m in messages:
            m["decisions"] = [
                {"time": d["time"], "status": d["status"], "stage": d["stage"], "outcome": d["outcome"],
                 "reason": d["reason"]}
                for d in self.query("SELECT * FROM decisions WHERE message_uid = ? ORDER BY id", (m["uid"],))
            ]
        flags = []
        if chats:
            marks = ",".join("?" * len(chats))
            flags = self.query(
                f"SELECT id, message_uid, chat_id, time, rule, category, action, status, text, decided_by,"
                f" decided_at FROM moderation_flags WHERE platform = ? AND chat_id IN ({marks}) AND member_id = ?"
                " ORDER BY time", (platform, *chats, user_id),
            )
        deliveries = self.query(
            "SELECT id, source, chat_id, status, payload, created_at, sent_at FROM outbound"
            " WHERE platform = ? AND chat_kind = 'private' AND chat_id = ? ORDER BY id", (platform, user_id),
        )
        for d in deliveries:
            d["payload"] = loads(d["payload"], {})
        join_requests: list[dict[str, Any]] = []
        if self.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'join_requests'"):
            cols = {r["name"] for r in self.query("PRAGMA table_info(join_requests)")}
            if "ref" in cols:
                join_requests = self.query("SELECT * FROM join_requests WHERE ref = ?", (make_ref(platform, user_id),))
        return {
            "ref": make_ref(platform, user_id), "profile": self.get(platform, user_id),
            "names": self.names(platform, user_id), "groups": self.groups(platform, user_id),
            "tags": self.tags_of(platform, user_id), "notes": self.notes(platform, user_id),
            "strikes": self.strikes(platform, user_id, limit=100_000), "flags": flags,
            "messages": messages, "deliveries": deliveries, "join_requests": join_requests,
            "blacklisted": self.is_blacklisted(make_ref(platform, user_id)),
        }

    def erase(self, platform: str, user_id: str, actor: str) -> dict[str, int]:
        """Remove a member's content and personal fields from every table; counts stay (messages,
        decisions, strikes as rows), and one audit row says who erased whom and when."""
        now = iso(utcnow())
        ref = make_ref(platform, user_id)
        counts: dict[str, int] = {}
        with self.tx() as conn:
            chats = [r[0] for r in conn.execute(
                "SELECT chat_id FROM members WHERE platform = ? AND member_id = ?", (platform, user_id))]
            n = 0
            for chat_id in chats:
                conn.execute(
                    "UPDATE decisions SET reason = '', trace = '[]' WHERE message_uid IN (SELECT uid FROM messages"
                    " WHERE platform = ? AND chat_id = ? AND sender_id = ?)", (platform, chat_id, user_id))
                n += conn.execute(
                    "UPDATE messages SET text = '', sender_name = '', mentions = '[]', attachments = '[]', raw = '{}'"
                    " WHERE platform = ? AND chat_id = ? AND sender_id = ?", (platform, chat_id, user_id)).rowcount
                conn.execute(
                    "UPDATE moderation_flags SET text = '', member_name = '', hits = '[]', detail = '{}', note = ''"
                    " WHERE platform = ? AND chat_id = ? AND member_id = ?", (platform, chat_id, user_id))
            counts["messages"] = n
            # what the bot said to them 1:1
            conn.execute(
                "UPDATE messages SET text = '', raw = '{}'"
                " WHERE platform = ? AND chat_id = ? AND chat_kind = 'private'",
                (platform, user_id))
            conn.execute(
                "UPDATE outbound SET payload = '{}' WHERE platform = ? AND chat_id = ? AND chat_kind = 'private'"
                " AND status NOT IN ('pending', 'sending')", (platform, user_id))
            conn.execute("UPDATE members SET name = '' WHERE platform = ? AND member_id = ?", (platform, user_id))
            conn.execute("UPDATE member_profiles SET name = '', deleted_at = ? WHERE platform = ? AND user_id = ?",
                         (now, platform, user_id))
            counts["names"] = conn.execute(
                "DELETE FROM member_names WHERE platform = ? AND user_id = ?", (platform, user_id)).rowcount
            counts["notes"] = conn.execute(
                "DELETE FROM member_notes WHERE platform = ? AND user_id = ?", (platform, user_id)).rowcount
            counts["tags"] = conn.execute(
                "DELETE FROM member_tags WHERE platform = ? AND user_id = ?", (platform, user_id)).rowcount
            conn.execute(_BUMP)
            # who and when, not what: the detail holds no erased content
            conn.execute("INSERT INTO audit_log(time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                         (now, actor, "member.delete", ref, dumps({})))
        return counts


# members with a mute that has not ended at ?, from the strikes ("mute:86400s")
MUTED_SQL = (
    "SELECT platform, member_id FROM moderation_strikes WHERE revoked = 0 AND step LIKE 'mute:%s'"
    " AND julianday(time) + CAST(substr(step, 6, length(step) - 6) AS REAL) / 86400.0 > ?"
)


def _julian(dt: datetime) -> float:
    return dt.timestamp() / 86400.0 + 2440587.5


def mute_end(strike: dict[str, Any]) -> datetime | None:
    step = strike.get("step", "")
    if not step.startswith("mute:") or not step.endswith("s"):
        return None
    try:
        seconds = float(step[5:-1])
    except ValueError:
        return None
    return datetime.fromisoformat(strike["time"]) + timedelta(seconds=seconds)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
