"""WeCom customer groups (客户群): what the 客户联系 API says about each group and member, the
企业群发 tasks qunbot created (one per owner) with each group's outcome, the platform's own
group statistics, and the welcome templates pushed to WeCom.

The group itself is also a row of `chats` (platform "wecom", kind "customer_group") and its
members rows of `members`, so the rest of qunbot (targets, tags, welcome, reports) sees them
like any other group; these tables hold what only the 客户联系 API knows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from bot.store.base import Repo, dumps, iso, loads, reads, utcnow

PLATFORM = "wecom"
# the member directory's profile writer: (conn, platform, user_id, name, now)
ProfileFn = Callable[[sqlite3.Connection, str, str, str, str], None]
CUSTOMER_GROUP = "customer_group"
# a dismissed (解散) group keeps its chat row under this kind: history stays, targets skip it
DISMISSED = "customer_group_dismissed"
# chat_kind of an outbox row that is one owner's 企业群发 task, chat_id "owner:<userid>[#part]"
GROUPMSG_TASK = "customer_group_task"
OWNER_PREFIX = "owner:"
# add_msg_template accepts at most this many groups per task
CHAT_ID_LIST_MAX = 2000
# a task's groups: waiting for the owner to confirm / sent / not sent (with a reason)
TARGET_WAITING, TARGET_SENT, TARGET_NOT_SENT = "waiting", "sent", "not_sent"

WECOM_CONTACT_V1 = """
CREATE TABLE wecom_groups (
    chat_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    notice TEXT NOT NULL DEFAULT '',
    create_time INTEGER NOT NULL DEFAULT 0,
    follow_status INTEGER NOT NULL DEFAULT 0,
    dismissed_at TEXT,
    synced_at TEXT NOT NULL
);
CREATE INDEX wecom_groups_owner ON wecom_groups(owner);
CREATE TABLE wecom_group_members (
    chat_id TEXT NOT NULL,
    userid TEXT NOT NULL,
    member_type INTEGER NOT NULL DEFAULT 0,
    join_scene INTEGER NOT NULL DEFAULT 0,
    join_time INTEGER NOT NULL DEFAULT 0,
    invitor TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    group_nickname TEXT NOT NULL DEFAULT '',
    left_at TEXT,
    PRIMARY KEY (chat_id, userid)
);
CREATE TABLE wecom_groupmsg_tasks (
    id INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    owner TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'waiting',
    submitted_at TEXT NOT NULL,
    reminded_at TEXT,
    reminders INTEGER NOT NULL DEFAULT 0,
    checked_at TEXT
);
CREATE INDEX wecom_groupmsg_tasks_status ON wecom_groupmsg_tasks(status, submitted_at);
CREATE TABLE wecom_groupmsg_targets (
    task_id INTEGER NOT NULL REFERENCES wecom_groupmsg_tasks(id) ON DELETE CASCADE,
    chat_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'waiting',
    reason TEXT NOT NULL DEFAULT '',
    send_time INTEGER,
    PRIMARY KEY (task_id, chat_id)
);
CREATE INDEX wecom_groupmsg_targets_chat ON wecom_groupmsg_targets(chat_id);
CREATE TABLE wecom_group_stats (
    day TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (day, owner)
);
CREATE TABLE wecom_welcome_templates (
    name TEXT PRIMARY KEY,
    template_id TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
"""


class WecomContactRepo(Repo):
    COMPONENT = "wecom_contact"
    MIGRATIONS = (WECOM_CONTACT_V1,)

    # -- groups and members ---------------------------------------------------------

    def save_group(self, group: dict[str, Any], *, full: bool = True,
                   profile: ProfileFn | None = None) -> dict[str, list[str]]:
        """Store one `groupchat/get` answer: the chat row, its members (joined and left since the
        last look) and the details only WeCom knows. `full`: the member list is complete, so
        members missing from it have left. `profile` (the member directory's
        `MemberRepo.record_profile`) files each member in the directory, in the same
        transaction. Returns the user ids that joined and that left."""
        chat_id = str(group["chat_id"])
        now = iso(utcnow())
        members = [m for m in group.get("member_list") or [] if isinstance(m, dict) and m.get("userid")]
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO chats(platform, chat_id, kind, name, tags, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, '[]', ?, ?) ON CONFLICT(platform, chat_id) DO UPDATE SET"
                " name = excluded.name, kind = excluded.kind, updated_at = excluded.updated_at",
                (PLATFORM, chat_id, CUSTOMER_GROUP, str(group.get("name") or ""), now, now),
            )
            conn.execute(
                "INSERT INTO wecom_groups(chat_id, owner, name, notice, create_time, follow_status, dismissed_at,"
                " synced_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT(chat_id) DO UPDATE SET"
                " owner = excluded.owner, name = excluded.name, notice = excluded.notice,"
                " create_time = excluded.create_time, follow_status = excluded.follow_status,"
                " dismissed_at = NULL, synced_at = excluded.synced_at",
                (chat_id, str(group.get("owner") or ""), str(group.get("name") or ""),
                 str(group.get("notice") or ""), int(group.get("create_time") or 0),
                 int(group.get("status") or 0), now),
            )
            before = {r[0] for r in conn.execute(
                "SELECT userid FROM wecom_group_members WHERE chat_id = ? AND left_at IS NULL", (chat_id,))}
            present = {str(m["userid"]) for m in members}
            conn.executemany(
                "INSERT INTO wecom_group_members(chat_id, userid, member_type, join_scene, join_time, invitor,"
                " name, group_nickname, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT(chat_id, userid) DO UPDATE SET member_type = excluded.member_type,"
                " join_scene = excluded.join_scene, join_time = excluded.join_time, invitor = excluded.invitor,"
                " name = CASE WHEN excluded.name = '' THEN wecom_group_members.name ELSE excluded.name END,"
                " group_nickname = excluded.group_nickname, left_at = NULL",
                [(chat_id, str(m["userid"]), int(m.get("type") or 0), int(m.get("join_scene") or 0),
                  int(m.get("join_time") or 0), str((m.get("invitor") or {}).get("userid") or ""),
                  str(m.get("name") or ""), str(m.get("group_nickname") or "")) for m in members],
            )
            admins = {str(a.get("userid")) for a in group.get("admin_list") or [] if isinstance(a, dict)}
            admins.add(str(group.get("owner") or ""))
            conn.executemany(
                "INSERT INTO members(platform, chat_id, member_id, name, joined_at, left_at, last_seen_at,"
                " is_moderator) VALUES (?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT(platform, chat_id, member_id)"
                " DO UPDATE SET name = CASE WHEN excluded.name = '' THEN members.name ELSE excluded.name END,"
                " left_at = NULL, joined_at = COALESCE(members.joined_at, excluded.joined_at),"
                " is_moderator = excluded.is_moderator",
                [(PLATFORM, chat_id, str(m["userid"]), str(m.get("group_nickname") or m.get("name") or ""),
                  _ts(m.get("join_time")) or now, now, int(str(m["userid"]) in admins)) for m in members],
            )
            if profile is not None:
                for m in members:
                    profile(conn, PLATFORM, str(m["userid"]), str(m.get("group_nickname") or m.get("name") or ""),
                            now)
            left = sorted(before - present) if full else []
            conn.executemany(
                "UPDATE wecom_group_members SET left_at = ? WHERE chat_id = ? AND userid = ?",
                [(now, chat_id, u) for u in left],
            )
            conn.executemany(
                "UPDATE members SET left_at = ? WHERE platform = ? AND chat_id = ? AND member_id = ?",
                [(now, PLATFORM, chat_id, u) for u in left],
            )
        return {"joined": sorted(present - before), "left": left}

    def members_left(self, chat_id: str, userids: Iterable[str]) -> None:
        """Members a del_member callback named (the next full look confirms it)."""
        now = iso(utcnow())
        ids = list(userids)
        with self.tx() as conn:
            conn.executemany("UPDATE wecom_group_members SET left_at = ? WHERE chat_id = ? AND userid = ?",
                             [(now, chat_id, u) for u in ids])
            conn.executemany("UPDATE members SET left_at = ? WHERE platform = ? AND chat_id = ? AND member_id = ?",
                             [(now, PLATFORM, chat_id, u) for u in ids])

    def dismiss(self, chat_id: str) -> None:
        """The group was dismissed (解散): it stays for history but is no longer a target."""
        now = iso(utcnow())
        with self.tx() as conn:
            conn.execute("UPDATE wecom_groups SET dismissed_at = ? WHERE chat_id = ?", (now, chat_id))
            conn.execute("UPDATE chats SET kind = ?, updated_at = ? WHERE platform = ? AND chat_id = ?",
                         (DISMISSED, now, PLATFORM, chat_id))

    def dismiss_missing(self, present: set[str]) -> list[str]:
        """After a full sync: groups WeCom no longer lists are dismissed (or out of the app's reach)."""
        gone = [r["chat_id"] for r in self.query("SELECT chat_id FROM wecom_groups WHERE dismissed_at IS NULL")
                if r["chat_id"] not in present]
        for chat_id in gone:
            self.dismiss(chat_id)
        return gone

    @reads
    def owners(self) -> dict[str, str]:
        """chat_id → owner userid of every live customer group."""
        return {r["chat_id"]: r["owner"] for r in
                self.query("SELECT chat_id, owner FROM wecom_groups WHERE dismissed_at IS NULL")}

    @reads
    def groups(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT g.*, (SELECT count(*) FROM wecom_group_members m WHERE m.chat_id = g.chat_id"
            " AND m.left_at IS NULL) AS members FROM wecom_groups g ORDER BY g.owner, g.name, g.chat_id"
        )

    @reads
    def group(self, chat_id: str) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM wecom_groups WHERE chat_id = ?", (chat_id,))

    @reads
    def group_members(self, chat_id: str, *, present_only: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT * FROM wecom_group_members WHERE chat_id = ?"
        if present_only:
            sql += " AND left_at IS NULL"
        return self.query(sql + " ORDER BY join_time, userid", (chat_id,))

    # -- 企业群发 tasks ----------------------------------------------------------------

    def add_task(self, msgid: str, source: str, occurrence: str, owner: str, text: str,
                 chat_ids: list[str], fail_list: Iterable[str] = (), at: datetime | None = None) -> int:
        """One add_msg_template answer: the task and its groups, all waiting for the owner
        (except those WeCom refused at once)."""
        failed = set(fail_list)
        now = iso(at or utcnow())
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT INTO wecom_groupmsg_tasks(msgid, source, occurrence, owner, text, submitted_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(msgid) DO NOTHING RETURNING id",
                (msgid, source, occurrence, owner, text, now),
            )
            row = cur.fetchone()
            task_id = row[0] if row else conn.execute(
                "SELECT id FROM wecom_groupmsg_tasks WHERE msgid = ?", (msgid,)).fetchone()[0]
            conn.executemany(
                "INSERT OR IGNORE INTO wecom_groupmsg_targets(task_id, chat_id, status, reason) VALUES (?, ?, ?, ?)",
                [(task_id, c, TARGET_NOT_SENT if c in failed else TARGET_WAITING,
                  "企业微信拒绝：群不可用或不属于该群主" if c in failed else "") for c in chat_ids],
            )
        return int(task_id)

    @reads
    def open_tasks(self) -> list[dict[str, Any]]:
        """Tasks with a group still waiting for its owner."""
        return self.query(
            "SELECT * FROM wecom_groupmsg_tasks WHERE status = 'waiting' ORDER BY submitted_at, id"
        )

    def set_targets(self, task_id: int, results: list[tuple[str, str, str, int | None]]) -> None:
        """(chat_id, status, reason, send_time) from get_groupmsg_send_result."""
        with self.tx() as conn:
            conn.executemany(
                "UPDATE wecom_groupmsg_targets SET status = ?, reason = ?, send_time = ?"
                " WHERE task_id = ? AND chat_id = ?",
                [(status, reason, send_time, task_id, chat_id) for chat_id, status, reason, send_time in results],
            )

    def finish_task(self, task_id: int, status: str, *, reason: str = "") -> None:
        """The owner sent it (or the task can no longer be sent): groups still waiting get `reason`."""
        with self.tx() as conn:
            conn.execute("UPDATE wecom_groupmsg_tasks SET status = ?, checked_at = ? WHERE id = ?",
                         (status, iso(utcnow()), task_id))
            if reason:
                conn.execute("UPDATE wecom_groupmsg_targets SET status = ?, reason = ?"
                             " WHERE task_id = ? AND status = ?", (TARGET_NOT_SENT, reason, task_id, TARGET_WAITING))

    def checked(self, task_id: int) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE wecom_groupmsg_tasks SET checked_at = ? WHERE id = ?", (iso(utcnow()), task_id))

    def reminded(self, task_id: int, at: datetime) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE wecom_groupmsg_tasks SET reminded_at = ?, reminders = reminders + 1 WHERE id = ?",
                         (iso(at), task_id))

    @reads
    def task_targets(self, source: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Per group of each task: what the console shows (waiting for owner / sent / not sent)."""
        sql = (
            "SELECT t.id AS task_id, t.msgid, t.source, t.occurrence, t.owner, t.submitted_at, t.reminded_at,"
            " t.reminders, x.chat_id, x.status, x.reason, x.send_time, COALESCE(g.name, '') AS chat_name"
            " FROM wecom_groupmsg_tasks t JOIN wecom_groupmsg_targets x ON x.task_id = t.id"
            " LEFT JOIN wecom_groups g ON g.chat_id = x.chat_id"
        )
        params: list[Any] = []
        if source:
            sql += " WHERE t.source = ?"
            params.append(source)
        return self.query(sql + " ORDER BY t.id DESC, x.chat_id LIMIT ?", [*params, limit])

    @reads
    def task_summary(self, source_prefix: str) -> list[dict[str, Any]]:
        """Per (source, occurrence) of the 企业群发 tasks of a job: groups waiting / sent / not sent."""
        return self.query(
            "SELECT t.source, t.occurrence, count(*) AS total, sum(x.status = 'waiting') AS waiting,"
            " sum(x.status = 'sent') AS sent, sum(x.status = 'not_sent') AS not_sent"
            " FROM wecom_groupmsg_tasks t JOIN wecom_groupmsg_targets x ON x.task_id = t.id"
            " WHERE substr(t.source, 1, length(?)) = ? GROUP BY t.source, t.occurrence ORDER BY t.occurrence DESC",
            (source_prefix, source_prefix),
        )

    @reads
    def usage(self, since: datetime) -> dict[str, int]:
        """chat_id → 企业群发 qunbot submitted to it since `since` that did not fail, plus those
        still in the outbox on their way: what the corp's per-group limit counts."""
        rows = self.query(
            "SELECT chat_id, count(*) AS n FROM ("
            " SELECT x.chat_id FROM wecom_groupmsg_targets x JOIN wecom_groupmsg_tasks t ON t.id = x.task_id"
            "  WHERE t.submitted_at >= ? AND x.status != ?"
            " UNION ALL SELECT j.value AS chat_id FROM outbound o, json_each(o.payload, '$.chat_id_list') j"
            "  WHERE o.chat_kind = ? AND o.status IN ('pending', 'sending', 'uncertain') AND o.created_at >= ?"
            ") GROUP BY chat_id",
            (iso(since), TARGET_NOT_SENT, GROUPMSG_TASK, iso(since)),
        )
        return {r["chat_id"]: int(r["n"]) for r in rows}

    # -- statistics -----------------------------------------------------------------------

    def save_stats(self, day: str, items: list[dict[str, Any]]) -> None:
        now = iso(utcnow())
        with self.tx() as conn:
            conn.executemany(
                "INSERT INTO wecom_group_stats(day, owner, data, fetched_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(day, owner) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at",
                [(day, str(i.get("owner") or ""), dumps(i.get("data") or {}), now) for i in items],
            )

    @reads
    def stats(self, since_day: str, until_day: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM wecom_group_stats WHERE day >= ? AND day <= ? ORDER BY day, owner",
                          (since_day, until_day))
        for r in rows:
            r["data"] = loads(r["data"], {})
        return rows

    # -- welcome templates ----------------------------------------------------------------

    @reads
    def welcome_template(self, name: str) -> dict[str, Any] | None:
        return self.query_one("SELECT * FROM wecom_welcome_templates WHERE name = ?", (name,))

    def save_welcome_template(self, name: str, template_id: str, text: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO wecom_welcome_templates(name, template_id, text, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET template_id = excluded.template_id, text = excluded.text,"
                " updated_at = excluded.updated_at",
                (name, template_id, text, iso(utcnow())),
            )


def _ts(value: Any) -> str | None:
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    from datetime import UTC

    return iso(datetime.fromtimestamp(seconds, UTC))
