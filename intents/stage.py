"""The FAQ pipeline stage: answer, suggest or stay silent; suggestion picks and feedback."""

from __future__ import annotations

import logging

from bot.kernel.events import Decision, Event, EventType, Reply, pass_
from bot.kernel.pipeline import Context
from intents.model import Match
from intents.normalize import compact, looks_like_question
from intents.service import FaqService
from intents.session import Conversations, Key, parse_choice

log = logging.getLogger("qunbot.faq")
STAGE = "intents"
# how often the stage checks whether another process changed the FAQ
REFRESH_SECONDS = 10.0
# shorter questions ("在吗?") are not worth a manager's look
LOG_MIN_LENGTH = 4


def suggestion_text(questions: list[str]) -> str:
    lines = [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    return "您是想问：\n" + "\n".join(lines) + "\n（回复数字即可）"


class FaqStage:
    """Answers members' questions from the FAQ; jieba and the index load in the constructor."""

    def __init__(self, services) -> None:
        self.services = services
        self.settings = services.settings.faq
        self.store = services.store
        self.clock = services.clock
        # console views and the CLI reach it through the bot's `faq_stage.faq`
        self.faq = FaqService(self.settings, self.store, self.clock)
        self.conversations = Conversations(
            self.clock, self.settings.suggest_ttl, self.settings.feedback_window)
        self._feedback_words = {compact(w) for w in self.settings.feedback_words if compact(w)}
        self._next_refresh = self.clock.monotonic() + REFRESH_SECONDS

    async def __call__(self, event: Event, ctx: Context) -> Decision:
        s = self.settings
        if not s.enabled or event.type is not EventType.MESSAGE or not event.text.strip():
            return pass_(STAGE)
        await self._maybe_refresh()
        key: Key = (event.session_key, event.sender_id)
        text = event.text.strip()

        feedback = self._feedback(key, text, ctx)
        if feedback is not None:
            return await feedback
        choice = parse_choice(text)
        if choice is not None:
            picked = self.conversations.choose(key, choice, consume=not ctx.dry_run)
            if picked is not None:
                return await self._answer_entry(event, ctx, key, picked[0], picked[1], 0.0, via="suggest")

        if event.is_group and s.group_questions_only and not (event.to_me or looks_like_question(text)):
            return pass_(STAGE, "群聊消息不像提问，未匹配常见问题")
        length = len(compact(text))
        if not s.min_length <= length <= s.max_length:
            return pass_(STAGE, f"消息长度 {length} 不在 {s.min_length}–{s.max_length} 之间")

        match = self.faq.engine.match(
            text, chat_id=event.chat_id, chat_tags=ctx.chat_tags, private=not event.is_group,
            suggest_max=s.suggest_max, member_tags=ctx.member_tags,
        )
        if match.outcome == "suggest" and event.is_group and not s.group_suggest:
            match.outcome = "silent"
        if match.outcome == "answer":
            best = match.candidates[0]
            return await self._answer_entry(event, ctx, key, best.entry_id, text, best.score,
                                            via="answer", match=match)
        if match.outcome == "suggest":
            return await self._suggest(event, ctx, key, match)
        await self._log_unanswered(event, ctx, match)
        top = match.best
        if top is None:
            reason = "没有相近的常见问题"
        elif top.score >= s.suggest_threshold:
            reason = f"最高分 {top.score:.1f}（{top.entry_id}）未达回答阈值，群聊不发建议"
        else:
            reason = f"最高分 {top.score:.1f}（{top.entry_id}）低于建议阈值 {s.suggest_threshold:g}"
        return Decision(stage=STAGE, outcome="pass", reason=reason, detail=match.to_dict())

    # -- outcomes ---------------------------------------------------------------------

    async def _answer_entry(self, event: Event, ctx: Context, key: Key, entry_id: str, question: str,
                            score: float, *, via: str, match: Match | None = None) -> Decision:
        entry = self.faq.engine.entries.get(entry_id)
        if entry is None or not entry.enabled:
            return pass_(STAGE, f"条目 {entry_id} 已删除或停用")
        detail = {"entry_id": entry_id, "score": round(score, 2), "via": via}
        if match is not None:
            detail["candidates"] = [c.to_dict() for c in match.candidates]
        if not ctx.dry_run:
            # written behind, in the recorder's next batch: the hot path does not wait for SQLite
            self.services.write_row_later(self.store.faq.record_answers, {
                "entry_id": entry_id, "message_uid": event.uid, "platform": event.platform,
                "chat_id": event.chat_id, "sender_id": event.sender_id, "question": question,
                "score": score, "via": via, "at": ctx.now,
            })
            answer_id = event.uid
            self.faq.engine.count(entry_id, hit=True)
            self.conversations.answered(key, answer_id, entry_id)
            self.conversations.drop(key)
            detail["answer_id"] = answer_id
        if via == "suggest":
            reason = f"成员选择了建议中的常见问题 {entry_id}"
        else:
            reason = (
                f"常见问题 {entry_id} 匹配度 {score:.1f}（问法：{match.best.question if match and match.best else ''}）"
            )
        reply = Reply(text=entry.answer, mention_sender=event.is_group and self.settings.mention_sender)
        return Decision(stage=STAGE, outcome="answered", reason=reason, detail=detail, stop=True,
                        replies=[reply])

    async def _suggest(self, event: Event, ctx: Context, key: Key, match: Match) -> Decision:
        entries = self.faq.engine.entries
        cands = [c for c in match.candidates if c.entry_id in entries]
        titles = [entries[c.entry_id].questions[0] for c in cands]
        if not ctx.dry_run:
            self.conversations.offer(key, [c.entry_id for c in cands], event.text.strip())
        await self._log_unanswered(event, ctx, match)
        reason = "可能的常见问题：" + "，".join(f"{c.entry_id}（{c.score:.1f}）" for c in cands)
        reply = Reply(text=suggestion_text(titles),
                      mention_sender=event.is_group and self.settings.mention_sender)
        return Decision(stage=STAGE, outcome="suggested", reason=reason, detail=match.to_dict(),
                        stop=True, replies=[reply])

    def _feedback(self, key: Key, text: str, ctx: Context):
        last = self.conversations.last_answer(key)
        if last is None or not self._feedback_words:
            return None
        said = compact(text)
        if not said or len(said) > 12 or not any(w in said for w in self._feedback_words):
            return None
        return self._record_feedback(key, last.answer_id, last.entry_id, ctx)

    async def _record_feedback(self, key: Key, answer_id: int | str, entry_id: str, ctx: Context) -> Decision:
        if not ctx.dry_run:
            self.services.write_later(self.store.faq.mark_unhelpful, answer_id)
            self.faq.engine.count(entry_id, unhelpful=True)
            self.conversations.forget_answer(key)
        replies = [Reply(text=self.settings.feedback_reply)] if self.settings.feedback_reply else []
        return Decision(stage=STAGE, outcome="feedback", reason=f"成员反馈常见问题 {entry_id} 的回答没有帮助",
                        detail={"entry_id": entry_id, "answer_id": answer_id}, stop=True, replies=replies)

    async def _log_unanswered(self, event: Event, ctx: Context, match: Match) -> None:
        if ctx.dry_run or not self.settings.log_unanswered or len(compact(event.text)) < LOG_MIN_LENGTH:
            return
        best = match.best
        self.services.write_row_later(self.store.faq.log_unanswered_many, {
            "text": event.text.strip(), "platform": event.platform, "chat_id": event.chat_id,
            "sender_id": event.sender_id, "outcome": match.outcome,
            "score": round(best.score, 2) if best else 0.0, "best_entry": best.entry_id if best else None,
            "at": ctx.now,
        })

    async def _maybe_refresh(self) -> None:
        now = self.clock.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + REFRESH_SECONDS
        try:
            await self.faq.arefresh_if_changed()
        except Exception:
            log.exception("reloading the FAQ failed")
