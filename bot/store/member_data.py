"""A member's own data (个人信息保护法): everything stored about them, and its erasure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.store.base import dumps, iso, loads, utcnow

if TYPE_CHECKING:
    from bot.store.members import MemberRepo

_BUMP = "UPDATE member_state SET version = version + 1 WHERE id = 1"


def export(repo: MemberRepo, platform: str, user_id: str) -> dict[str, Any]:
    """Everything stored about one member, for `member export` (personal-data requests)."""
    from bot.store.members import make_ref

    chats = [g["chat_id"] for g in repo.groups(platform, user_id)]
    messages: list[dict[str, Any]] = []
    for chat_id in chats:
        messages += repo.query(
            "SELECT uid, chat_id, time, type, text, status FROM messages WHERE platform = ? AND chat_id = ?"
            " AND sender_id = ? AND direction = 'in' ORDER BY time", (platform, chat_id, user_id),
        )
    for m in messages:
        m["decisions"] = [
            {"time": d["time"], "status": d["status"], "stage": d["stage"], "outcome": d["outcome"],
             "reason": d["reason"]}
            for d in repo.query("SELECT * FROM decisions WHERE message_uid = ? ORDER BY id", (m["uid"],))
        ]
    flags = []
    if chats:
        marks = ",".join("?" * len(chats))
        flags = repo.query(
            f"SELECT id, message_uid, chat_id, time, rule, category, action, status, text, decided_by,"
            f" decided_at FROM moderation_flags WHERE platform = ? AND chat_id IN ({marks}) AND member_id = ?"
            " ORDER BY time", (platform, *chats, user_id),
        )
    deliveries = repo.query(
        "SELECT id, source, chat_id, status, payload, created_at, sent_at FROM outbound"
        " WHERE platform = ? AND chat_kind = 'private' AND chat_id = ? ORDER BY id", (platform, user_id),
    )
    for d in deliveries:
        d["payload"] = loads(d["payload"], {})
    join_requests: list[dict[str, Any]] = []
    if repo.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'join_requests'"):
        cols = {r["name"] for r in repo.query("PRAGMA table_info(join_requests)")}
        if "member_id" in cols:
            join_requests = repo.query(
                "SELECT * FROM join_requests WHERE platform = ? AND member_id = ? ORDER BY rowid", (platform, user_id))
        if "ref" in cols:
            join_requests = repo.query("SELECT * FROM join_requests WHERE ref = ?", (make_ref(platform, user_id),))
    mutes = repo.query("SELECT * FROM mutes WHERE platform = ? AND member_id = ? ORDER BY id",
                       (platform, user_id)) if repo.has_table("mutes") else []
    return {
        "ref": make_ref(platform, user_id), "profile": repo.get(platform, user_id), "mutes": mutes,
        "names": repo.names(platform, user_id), "groups": repo.groups(platform, user_id),
        "tags": repo.tags_of(platform, user_id), "notes": repo.notes(platform, user_id),
        "strikes": repo.strikes(platform, user_id, limit=100_000), "flags": flags,
        "messages": messages, "deliveries": deliveries, "join_requests": join_requests,
        "blacklisted": repo.is_blacklisted(make_ref(platform, user_id)),
    }

def erase(repo: MemberRepo, platform: str, user_id: str, actor: str) -> dict[str, int]:
    """Remove a member's content and personal fields from every table; counts stay (messages,
    decisions, strikes as rows), and one audit row says who erased whom and when."""
    from bot.store.members import make_ref

    now = iso(utcnow())
    ref = make_ref(platform, user_id)
    counts: dict[str, int] = {}
    with repo.tx() as conn:
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
        # the guard's tables, where they exist: names in mutes, answers in join requests
        if repo.has_table("mutes"):
            conn.execute("UPDATE mutes SET member_name = '' WHERE platform = ? AND member_id = ?", (platform, user_id))
        if repo.has_table("join_requests") and "member_id" in {
                r[1] for r in conn.execute("PRAGMA table_info(join_requests)")}:
            conn.execute("UPDATE join_requests SET comment = '' WHERE platform = ? AND member_id = ?",
                         (platform, user_id))
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
