"""Join requests (OneBot v11 request/group): refuse, approve or hold for review, by the rules
of the group's policy. Blacklisted → refuse; the answer must contain a keyword when the policy
lists some; otherwise the policy's default (approve or review). No policy: held for review."""

from __future__ import annotations

from dataclasses import dataclass

from moderation.policy import PolicySettings


@dataclass(frozen=True, slots=True)
class JoinVerdict:
    status: str  # "approved" | "refused" | "pending"
    reason: str  # zh-CN, for the trace and the console
    answer: str = ""  # the refusal reason sent to the platform


def judge(comment: str, policy: PolicySettings | None, blacklisted: bool, blacklist_reason: str = "") -> JoinVerdict:
    if blacklisted:
        why = f"（{blacklist_reason}）" if blacklist_reason else ""
        return JoinVerdict("refused", f"申请人在黑名单中{why}，拒绝入群", "您已被列入黑名单")
    if policy is None:
        return JoinVerdict("pending", "本群没有入群规则，转人工审核")
    if policy.join_keywords:
        folded = comment.casefold()
        if not any(k.casefold() in folded for k in policy.join_keywords):
            return JoinVerdict("refused", f"验证信息不含关键词（{'、'.join(policy.join_keywords)}），拒绝入群",
                               policy.join_refuse_reason)
    if policy.join_default == "approve":
        return JoinVerdict("approved", f"按“{policy.label}”策略自动同意入群")
    return JoinVerdict("pending", f"按“{policy.label}”策略转人工审核")
