"""The FAQ service: the engine kept in step with the database; what console and CLI call.

Most methods are blocking (SQLite and index work): on the event loop call them through
`await store.run(service.method, ...)`. Rebuilding the whole index (a dictionary change, a
change made by another process) is CPU work of up to a second for 20k phrasings: on the loop
use `areload` / `arefresh_if_changed` / `aadd_dictionary` / `aremove_dictionary`, which read
the rows in a short store job, build on a worker thread (never the store's writer thread, so
commits are not held up) and swap the new tokenizer and engine in on the loop.
The bot's `faq_stage.faq` is the instance.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from bot.kernel.clock import Clock
from bot.store import Store
from bot.store.faq import decode_entry
from intents.config import FaqSettings
from intents.engine import FaqEngine, Thresholds
from intents.faqfile import FaqFileError, entry_from_dict, read_file
from intents.model import Candidate, FaqEntry
from intents.normalize import normalize
from intents.tokenize import Tokenizer
from intents.unanswered import Cluster, cluster_questions

DICT_KINDS = {"word": "自定义词", "stop": "停用词", "synonym": "同义词"}
# e-commerce questions for the demo groups (学生/宝妈/VIP entries are tag-scoped)
DEMO_FAQ = Path(__file__).parent / "data" / "demo_faq.jsonl"


def thresholds_of(settings: FaqSettings) -> Thresholds:
    return Thresholds(answer=settings.answer_threshold, suggest=settings.suggest_threshold,
                      margin=settings.answer_margin, candidates=settings.candidates,
                      demote_ratio=settings.demote_unhelpful_ratio,
                      demote_min_hits=settings.demote_min_hits)


def entry_of(row: dict[str, Any]) -> FaqEntry:
    return FaqEntry(id=row["id"], answer=row["answer"], questions=list(row["questions"]),
                    tags=list(row["tags"]), groups=list(row["groups"]), enabled=row["enabled"],
                    hits=row.get("hits", 0), unhelpful=row.get("unhelpful", 0),
                    member_tags=list(row.get("member_tags") or []))


class FaqService:
    """One bot's FAQ: database rows, the jieba dictionary and the live index, in step."""

    def __init__(self, settings: FaqSettings, store: Store, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self.tokenizer = Tokenizer()
        self.engine = FaqEngine(self.tokenizer, thresholds_of(settings))
        self.revision = -1
        # in-place index edits (save, delete, import): a rebuild from older rows must not undo one
        self._edits = 0
        # the engine is replaced on reload(): always reach it as `service.engine`
        self.reload()

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read dictionary and entries from the database and rebuild the index (blocking)."""
        with self._lock:
            self._install(*self._build(*self._snapshot()))

    async def areload(self) -> None:
        """`reload` from the event loop: only the reading runs on the store's writer thread."""
        for _ in range(5):
            edits = self._edits
            snapshot = await self.store.run(self._snapshot)
            built = await asyncio.to_thread(self._build, *snapshot)
            with self._lock:
                # an entry saved meanwhile is in the database, maybe not in the snapshot: read again
                if edits == self._edits:
                    self._install(*built)
                    return
        await self.store.run(self.reload)

    def refresh_if_changed(self) -> bool:
        """Pick up changes another process (e.g. `qunbot faq import`) made."""
        if self.store.faq.revision() == self.revision:
            return False
        self.reload()
        return True

    async def arefresh_if_changed(self) -> bool:
        """`refresh_if_changed` from the event loop (see `areload`)."""
        if await self.store.run(self.store.faq.revision) == self.revision:
            return False
        await self.areload()
        return True

    def _snapshot(self) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows a rebuild needs (store thread; quick)."""
        faq = self.store.faq
        rows = faq.list_entries(decode=False)
        targets = self.store.members.targets("faq")
        for r in rows:
            r["member_tags"] = targets.get(r["id"], [])
        return faq.revision(), faq.dictionary(), rows

    def _build(self, revision: int, dictionary: list[dict[str, Any]],
               rows: list[dict[str, Any]]) -> tuple[int, Tokenizer, FaqEngine]:
        """A new tokenizer and index from rows (CPU only: any thread)."""
        tokenizer = Tokenizer()
        tokenizer.set_user_words({r["word"]: r["freq"] for r in dictionary if r["kind"] == "word"})
        tokenizer.set_stop_words(r["word"] for r in dictionary if r["kind"] == "stop")
        tokenizer.set_synonyms({r["word"]: r["target"] for r in dictionary if r["kind"] == "synonym"})
        engine = FaqEngine(tokenizer, self.engine.thresholds)
        engine.load(entry_of(decode_entry(r)) for r in rows)
        return revision, tokenizer, engine

    def _install(self, revision: int, tokenizer: Tokenizer, engine: FaqEngine) -> None:
        # two attribute swaps: a question being answered keeps the engine it started with
        self.tokenizer = tokenizer
        self.engine = engine
        self.revision = revision

    def _synced(self) -> None:
        self.revision = self.store.faq.revision()

    # -- entries ----------------------------------------------------------------------

    def entries(self) -> list[FaqEntry]:
        targets = self.store.members.targets("faq")
        return [entry_of({**r, "member_tags": targets.get(r["id"], [])}) for r in self.store.faq.list_entries()]

    def get(self, entry_id: str) -> FaqEntry | None:
        row = self.store.faq.get_entry(entry_id)
        if row is None:
            return None
        return entry_of({**row, "member_tags": self.store.members.targets("faq").get(entry_id, [])})

    def save(self, data: dict[str, Any]) -> FaqEntry:
        """Validate and store one entry; the index changes only for this entry. `member_tags`
        (a member-tag target) must name known member tags."""
        data = dict(data)
        member_tags = list(data.pop("member_tags", None) or [])
        entry = entry_from_dict(data, "条目")
        unknown = sorted(set(member_tags) - self.store.members.known_tags())
        if unknown:
            raise FaqFileError(f"未知的成员标签：{'、'.join(unknown)}"
                               "（先给成员加上该标签，或在 [[member_tags]] 中配置）")
        entry.member_tags = member_tags
        with self._lock:
            self.store.members.set_target("faq", entry.id, member_tags)
            self.store.faq.upsert_entry(_row(entry), self.clock.now())
            self.engine.upsert(entry)
            self._edits += 1
            self._synced()
        return entry

    def delete(self, entry_id: str) -> bool:
        with self._lock:
            removed = self.store.faq.delete_entry(entry_id)
            self.engine.remove(entry_id)
            self._edits += 1
            self._synced()
        return removed

    def import_entries(self, entries: list[FaqEntry], replace: bool) -> dict[str, int]:
        with self._lock:
            result = self.store.faq.import_entries([_row(e) for e in entries], replace, self.clock.now())
            if replace:
                engine = FaqEngine(self.tokenizer, self.engine.thresholds)
                engine.load(entries)
                self.engine = engine
            else:
                for entry in entries:
                    self.engine.upsert(entry)
            self._edits += 1
            self._synced()
        return result

    async def aimport_entries(self, entries: list[FaqEntry], replace: bool) -> dict[str, int]:
        """`import_entries` from the event loop: the rows are written on the store thread, the
        index is rebuilt on a worker thread (see `areload`)."""
        result = await self.store.run(self.store.faq.import_entries, [_row(e) for e in entries],
                                      replace, self.clock.now())
        await self.areload()
        return result

    def add_phrasings(self, entry_id: str, questions: list[str]) -> FaqEntry:
        entry = self.get(entry_id)
        if entry is None:
            raise FaqFileError(f"条目 {entry_id} 不存在")
        data = entry.to_dict()
        data["questions"] = entry.questions + [q for q in questions if q not in entry.questions]
        return self.save(data)

    def seed_demo(self) -> bool:
        """Add the demo FAQ's entries whose ids are not taken; never changes existing ones."""
        taken = {row["id"] for row in self.store.faq.list_entries()}
        missing = [e for e in read_file(DEMO_FAQ) if e.id not in taken]
        if missing:
            self.import_entries(missing, replace=False)
        return bool(missing)

    # -- matching ---------------------------------------------------------------------

    def ask(self, text: str, limit: int = 5, **scope: Any) -> list[Candidate]:
        return self.engine.candidates(text, limit, **scope)

    # -- unanswered -------------------------------------------------------------------

    def clusters(self, threshold: float | None = None, limit: int = 2000) -> list[Cluster]:
        rows = self.store.faq.open_unanswered(limit)
        return cluster_questions(rows, self.tokenizer, self.engine,
                                 threshold if threshold is not None else self.settings.suggest_threshold)

    def resolve(self, ids: list[int], *, new_entry: dict[str, Any] | None = None,
                add_to: str | None = None) -> FaqEntry | None:
        """A cluster becomes a new entry, phrasings of an existing one, or is dismissed."""
        texts = list(dict.fromkeys(self.store.faq.unanswered_texts(ids)))
        entry = None
        if new_entry is not None:
            if self.get(str(new_entry.get("id", "")).strip()) is not None:
                raise FaqFileError(f"条目 id “{new_entry['id']}” 已存在，请换一个或选择“加为问法”")
            data = dict(new_entry)
            data["questions"] = list(dict.fromkeys([*data.get("questions", []), *texts]))
            entry = self.save(data)
        elif add_to:
            entry = self.add_phrasings(add_to, texts)
        self.store.faq.resolve_unanswered(ids, entry.id if entry else None, self.clock.now())
        return entry

    # -- dictionary -------------------------------------------------------------------

    def add_dictionary(self, word: str, kind: str, target: str = "", freq: int | None = None) -> None:
        """Add a dictionary word and re-segment every phrasing (blocking; see `aadd_dictionary`)."""
        self._write_word(word, kind, target, freq)
        self.reload()

    async def aadd_dictionary(self, word: str, kind: str, target: str = "", freq: int | None = None) -> None:
        await self.store.run(self._write_word, word, kind, target, freq)
        await self.areload()

    def remove_dictionary(self, word: str, kind: str) -> bool:
        removed = self.store.faq.remove_dictionary(word, kind)
        self.reload()
        return removed

    async def aremove_dictionary(self, word: str, kind: str) -> bool:
        removed = await self.store.run(self.store.faq.remove_dictionary, word, kind)
        await self.areload()
        return removed

    def _write_word(self, word: str, kind: str, target: str, freq: int | None) -> None:
        word = word.strip()
        if kind not in DICT_KINDS:
            raise FaqFileError(f"未知词类：{kind}")
        if not normalize(word):
            raise FaqFileError("词不能为空，也不能只含标点")
        if len(word) > 30:
            raise FaqFileError("词太长（最多 30 字）")
        if kind == "synonym" and not normalize(target):
            raise FaqFileError("同义词需要填写“归一为”的词")
        self.store.faq.add_dictionary(word, kind, target.strip() or None, freq)


def _row(entry: FaqEntry) -> dict[str, Any]:
    return {"id": entry.id, "answer": entry.answer, "questions": entry.questions,
            "tags": entry.tags, "groups": entry.groups, "enabled": entry.enabled}
