"""The audit log in a manager's words: what was done (not `users.create`), to what (linked), and
which fields changed (before → after), instead of raw JSON.

Actions are dotted codes written by every part of qunbot (`keywords.delete`, `member.tag.add`).
Known ones have a sentence; any other is read as object + verb from its parts, so a new feature's
entries are still Chinese before anyone adds a sentence for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

ACTIONS = {
    "login": "登录控制台",
    "users.create": "创建账号", "users.role": "修改账号角色", "users.password": "重置账号密码",
    "users.disable": "停用账号", "users.enable": "启用账号",
    "groups.tags": "修改群标签", "groups.create": "添加群", "groups.rename": "修改群名称",
    "keywords.create": "新建关键词规则", "keywords.update": "修改关键词规则", "keywords.delete": "删除关键词规则",
    "keywords.enable": "启用关键词规则", "keywords.disable": "停用关键词规则",
    "keywords.import": "导入关键词规则", "keywords.export": "导出关键词规则",
    "keywords.welcome.create": "新建入群欢迎语", "keywords.welcome.update": "修改入群欢迎语",
    "keywords.welcome.delete": "删除入群欢迎语",
    "faq.create": "新建问答", "faq.update": "修改问答", "faq.delete": "删除问答", "faq.import": "导入问答",
    "faq.dictionary.add": "添加问答词典词", "faq.dictionary.delete": "删除问答词典词",
    "faq.unanswered.add": "把未回答的问题加入问答", "faq.unanswered.new": "用未回答的问题新建问答",
    "faq.unanswered.dismiss": "忽略未回答的问题",
    "moderation.reload": "重新加载词库并训练", "moderation.word.add": "添加敏感词",
    "moderation.word.import": "导入敏感词", "moderation.word.delete": "删除敏感词",
    "moderation.allow.word.add": "添加白名单词", "moderation.allow.word.delete": "删除白名单词",
    "moderation.allow.domain.add": "添加白名单域名", "moderation.allow.domain.delete": "删除白名单域名",
    "moderation.review.confirm": "确认违规并处理", "moderation.review.approve": "判定为正常消息",
    "moderation.review.dismiss": "忽略待审消息",
    "schedules.create": "新建定时任务", "schedules.update": "修改定时任务", "schedules.retry": "重发失败的消息",
    "schedules.activate": "启用定时任务", "schedules.pause": "暂停定时任务", "schedules.resume": "恢复定时任务",
    "schedules.cancel": "取消活动", "schedules.archive": "归档定时任务",
    "sim.join": "模拟器：成员入群",
}
# Object words for the first part of an action code, and verbs for its last part.
OBJECTS = {
    "users": "账号", "groups": "群", "keywords": "关键词", "faq": "问答", "moderation": "审核",
    "schedules": "定时任务", "sim": "模拟器", "member": "成员", "members": "成员", "blacklist": "黑名单",
    "broadcast": "群发", "broadcasts": "群发", "sop": "群SOP", "joins": "入群申请", "wecom": "企业微信",
    "qq": "QQ", "sending": "发送", "review": "审核",
}
VERBS = {
    "create": "新建", "update": "修改", "delete": "删除", "add": "添加", "remove": "移除", "import": "导入",
    "export": "导出", "enable": "启用", "disable": "停用", "approve": "批准", "refuse": "拒绝", "reject": "拒绝",
    "cancel": "取消", "retry": "重试", "resume": "恢复", "pause": "暂停", "activate": "启用", "archive": "归档",
    "tag": "打标签", "untag": "移除标签", "note": "添加备注", "unmute": "解除禁言", "mute": "禁言",
    "revoke": "撤销", "confirm": "确认", "dismiss": "忽略", "sync": "同步", "rename": "重命名",
}
# Detail keys, as a manager names them.
FIELDS = {
    "role": "角色", "name": "名称", "tags": "标签", "before": "之前", "after": "之后", "keyword": "关键词",
    "reply": "回复", "category": "类别", "action": "处理方式", "spec": "设置", "hits": "命中次数",
    "occurrence": "发送时间", "requeued": "重新排队", "remote": "来源地址", "ids": "编号", "mode": "方式",
    "added": "新增", "updated": "更新", "skipped": "跳过", "errors": "错误", "words": "词数", "reason": "原因",
    "text": "内容", "groups": "群", "status": "状态", "kind": "类型", "question": "问题", "answer": "答案",
    "decision": "处理结果", "member": "成员", "chat": "群", "until": "截止", "by": "操作人",
}
ROLE_WORDS = {"admin": "管理员", "manager": "运营", "moderator": "审核员"}
MAX_VALUE = 160


@dataclass
class AuditRow:
    time: str
    actor: str
    what: str
    target: str
    link: str
    changes: list[tuple[str, str, str]]  # (field, before, after) for a changed field
    details: list[tuple[str, str]]  # (field, value) for everything else


def describe_action(action: str) -> str:
    if action in ACTIONS:
        return ACTIONS[action]
    parts = action.split(".")
    obj = OBJECTS.get(parts[0], "")
    verb = VERBS.get(parts[-1], "") if len(parts) > 1 else ""
    if obj and verb:
        return f"{obj}：{verb}"
    return obj or verb or "其他操作"


def target_link(action: str, target: str) -> str:
    """The console page of the object an entry is about, or "" when there is none."""
    if not target:
        return ""
    head = action.split(".")[0]
    if head == "users" or action == "login":
        return "/users"
    if head == "groups":
        return "/groups"
    if head == "schedules":
        kind, _, ident = target.partition(":")
        return f"/schedules/{ident}" if kind in ("post", "campaign") and ident.isdigit() else "/schedules"
    if head == "keywords":
        return "/keywords"
    if head == "faq" and not action.startswith(("faq.import", "faq.dictionary")):
        return f"/faq/{quote(target)}" if action != "faq.delete" else "/faq"
    if head == "moderation":
        return "/moderation/review" if action.startswith("moderation.review") else "/moderation/lexicon"
    if head in ("member", "members", "blacklist") and ":" in target:
        return f"/members/{quote(target, safe=':')}"
    if head in ("broadcast", "broadcasts") and target.isdigit():
        return f"/broadcasts/{target}"
    return ""


def readable(value: Any, limit: int = MAX_VALUE) -> str:
    """A detail value as text: lists joined with 、, mappings as 键：值, never JSON escapes."""
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        text = "、".join(readable(v, limit) for v in value) if value else "（无）"
    elif isinstance(value, dict):
        text = "；".join(f"{FIELDS.get(str(k), str(k))}：{readable(v, limit)}" for k, v in value.items())
    elif isinstance(value, str):
        text = ROLE_WORDS.get(value, value)
    else:
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (int, float)) else f"{value:g}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_row(entry: dict[str, Any]) -> AuditRow:
    detail = entry.get("detail") or {}
    if not isinstance(detail, dict):
        detail = {"detail": detail}
    changes: list[tuple[str, str, str]] = []
    details: list[tuple[str, str]] = []
    before, after = detail.get("before"), detail.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            if before.get(key) != after.get(key):
                changes.append((FIELDS.get(key, key), readable(before.get(key)), readable(after.get(key))))
    elif "before" in detail and "after" in detail:
        changes.append((FIELDS.get("tags", "值") if entry.get("action") == "groups.tags" else "值",
                        readable(before), readable(after)))
    for key, value in detail.items():
        if key in ("before", "after") and changes:
            continue
        details.append((FIELDS.get(key, key), readable(value)))
    action = str(entry.get("action", ""))
    target = str(entry.get("target") or "")
    return AuditRow(str(entry.get("time", "")), str(entry.get("actor", "")), describe_action(action), target,
                    target_link(action, target), changes, details)


def action_families(actions: list[str]) -> list[tuple[str, str]]:
    """(prefix, label) for the object-type filter, from the action codes present in the log."""
    heads = sorted({a.split(".")[0] for a in actions})
    return [(h, OBJECTS.get(h, ACTIONS.get(h, h))) for h in heads]
