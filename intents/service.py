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
from intents.conflicts import CHOICES, Conflict, FaqConflict, find_conflicts
from intents.engine import FaqEngine, Thresholds
from intents.faqfile import FaqFileError, entry_from_dict, read_file
from intents.model import Candidate, FaqEntry, Match
from intents.normalize import compact, normalize
from intents.semantic import Batcher, Embedder, UseModel, VectorStore
from intents.tokenize import Tokenizer
from intents.unanswered import Cluster, cluster_questions

DICT_KINDS = {"word": "自定义词", "stop": "停用词", "synonym": "同义词"}
# e-commerce questions for the demo groups (学生/宝妈/VIP entries are tag-scoped)
DEMO_FAQ = Path(__file__).parent / "data" / "demo_faq.jsonl"


def thresholds_of(settings: FaqSettings) -> Thresholds:
    return Thresholds(answer=settings.answer_threshold, suggest=settings.suggest_threshold,
                      margin=settings.answer_margin, candidates=settings.candidates,
                      demote_ratio=settings.demote_unhelpful_ratio,
                      demote_min_hits=settings.demote_min_hits,
                      semantic_weight=settings.semantic_weight,
                      semantic_answer=settings.semantic_answer_threshold,
                      semantic_suggest=settings.semantic_suggest_threshold,
                      semantic_margin=settings.semantic_margin,
                      semantic_keyword=settings.semantic_keyword_cosine,
                      confident_margin=settings.confident_margin)


def entry_of(row: dict[str, Any]) -> FaqEntry:
    return FaqEntry(id=row["id"], answer=row["answer"], questions=list(row["questions"]),
                    tags=list(row["tags"]), groups=list(row["groups"]), enabled=row["enabled"],
                    hits=row.get("hits", 0), unhelpful=row.get("unhelpful", 0),
                    member_tags=list(row.get("member_tags") or []))


class FaqService:
    """One bot's FAQ: database rows, the jieba dictionary and the live index, in step."""

    def __init__(self, settings: FaqSettings, store: Store, clock: Clock | None = None,
                 cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self.tokenizer = Tokenizer()
        # the sentence model and its vectors outlive index rebuilds ([faq] semantic = false: none)
        self.embedder: Embedder | None = None
        self.batcher: Batcher | None = None
        if settings.semantic:
            self.embedder = Embedder(UseModel, VectorStore(cache_dir, UseModel.name) if cache_dir else None)
            self.embedder.prewarm()
            self.batcher = Batcher(self.embedder)
        self.engine = FaqEngine(self.tokenizer, thresholds_of(settings), embedder=self.embedder)
        self.revision = -1
        # in-place index edits (save, delete, import): a rebuild from older rows must not undo one
        self._edits = 0
        self._rebuilding = 0
        # the engine is replaced on reload(): always reach it as `service.engine`
        self.reload()

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read dictionary and entries from the database and rebuild the index (blocking)."""
        with self._lock:
            self._install(*self._build(*self._snapshot()))

    async def areload(self) -> None:
        """`reload` from the event loop: only the reading runs on the store's writer thread."""
        self._rebuilding += 1
        try:
            await self._areload()
        finally:
            self._rebuilding -= 1

    async def _areload(self) -> None:
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
        # a rebuild under way (a dictionary edit) reads the newest rows itself: a second one
        # started by the periodic check would only repeat it
        if self._rebuilding or await self.store.run(self.store.faq.revision) == self.revision:
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
        engine = FaqEngine(tokenizer, self.engine.thresholds, embedder=self.embedder)
        engine.load(entry_of(decode_entry(r)) for r in rows)
        if self.embedder is not None:
            self.embedder.persist()  # the next start-up reads vectors instead of encoding
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

    def save(self, data: dict[str, Any], on_conflict: str | None = None) -> FaqEntry:
        """Validate and store one entry; the index changes only for this entry. `member_tags`
        (a member-tag target) must name known member tags.

        A phrasing another entry has or would answer raises FaqConflict unless on_conflict
        says what to do (conflicts.CHOICES); the entry returned is the one members now get."""
        data = dict(data)
        member_tags = list(data.pop("member_tags", None) or [])
        entry = entry_from_dict(data, "条目")
        unknown = sorted(set(member_tags) - self.store.members.known_tags())
        if unknown:
            raise FaqFileError(f"未知的成员标签：{'、'.join(unknown)}"
                               "（先给成员加上该标签，或在 [[member_tags]] 中配置）")
        entry.member_tags = member_tags
        with self._lock:
            found = find_conflicts(self.engine, [entry])
            if found and on_conflict not in CHOICES:
                raise FaqConflict(found)
            if found and on_conflict == "merge":
                return self._merge(entry, found[0].other_id)
            if found and on_conflict == "move":
                self._move_from_others(found)
            return self._store(entry)

    def warm_vectors(self, texts: list[str]) -> None:
        """Encode phrasings about to be saved (any thread but the writer): the save's conflict
        check and index update then find their vectors cached and keep the writer thread short."""
        if self.embedder is not None and texts:
            self.embedder.phrasings(texts)
            self.embedder.questions(texts)

    def new_id(self, question: str = "") -> str:
        """A free entry id: faq-0001, faq-0002, … (the manager may change it)."""
        taken = {row["id"] for row in self.store.faq.list_entries(decode=False)}
        n = len(taken) + 1
        while f"faq-{n:04d}" in taken:
            n += 1
        return f"faq-{n:04d}"

    def conflicts(self, data: dict[str, Any]) -> list[Conflict]:
        data = {k: v for k, v in data.items() if k != "member_tags"}
        return find_conflicts(self.engine, [entry_from_dict(data, "条目")])

    def _store(self, entry: FaqEntry) -> FaqEntry:
        with self._lock:
            self.store.members.set_target("faq", entry.id, list(entry.member_tags))
            self.store.faq.upsert_entry(_row(entry), self.clock.now())
            self.engine.upsert(entry)
            self._edits += 1
            self._synced()
        return entry

    def _merge(self, entry: FaqEntry, target_id: str) -> FaqEntry:
        """The two entries become one: the other keeps its answer and gains the phrasings."""
        target = self.get(target_id)
        if target is None:
            raise FaqFileError(f"条目 {target_id} 不存在")
        have = {compact(q) for q in target.questions}
        target.questions += [q for q in entry.questions if compact(q) not in have]
        merged = self._store(target)
        if entry.id != target_id and self.get(entry.id) is not None:
            self.delete(entry.id)
        return merged

    def _move_from_others(self, found: list[Conflict]) -> None:
        """Each conflicting phrasing leaves the other entry (the one this entry now owns)."""
        by_other: dict[str, set[str]] = {}
        for c in found:
            by_other.setdefault(c.other_id, set()).add(compact(c.other_question))
        for other_id, gone in by_other.items():
            other = self.get(other_id)
            if other is None:
                continue
            kept = [q for q in other.questions if compact(q) not in gone]
            if not kept:
                raise FaqFileError(f"条目 {other_id} 只有这个问法，不能移走；请选择合并")
            other.questions = kept
            self._store(other)

    def delete(self, entry_id: str) -> bool:
        with self._lock:
            removed = self.store.faq.delete_entry(entry_id)
            self.engine.remove(entry_id)
            self._edits += 1
            self._synced()
        return removed

    def import_entries(self, entries: list[FaqEntry], replace: bool,
                       on_conflict: str | None = None) -> dict[str, int]:
        """Write a file's entries. Conflicts (see `save`) raise FaqConflict unless on_conflict
        says what to do: merge folds an entry into the existing one it conflicts with, move
        takes the phrasing away from the existing entry, keep imports as it is."""
        with self._lock:
            entries = self._resolve_import(entries, replace, on_conflict)
            result = self.store.faq.import_entries([_row(e) for e in entries], replace, self.clock.now())
            if replace:
                engine = FaqEngine(self.tokenizer, self.engine.thresholds, embedder=self.embedder)
                engine.load(entries)
                self.engine = engine
            else:
                for entry in entries:
                    self.engine.upsert(entry)
            self._edits += 1
            self._synced()
        return result

    def _resolve_import(self, entries: list[FaqEntry], replace: bool,
                        on_conflict: str | None) -> list[FaqEntry]:
        # replace: the entries not in the file go, so only the file's own duplicates conflict
        engine = FaqEngine(self.tokenizer) if replace else self.engine
        found = find_conflicts(engine, entries)
        if not found or on_conflict == "keep":
            return entries
        if on_conflict not in CHOICES:
            raise FaqConflict(found)
        in_file = {e.id for e in entries}
        outside = [c for c in found if c.other_id not in in_file]
        if on_conflict == "move":
            self._move_from_others(outside)
            return entries
        # merge: an entry that conflicts with an existing one is folded into it
        first: dict[str, str] = {}
        for c in outside:
            first.setdefault(c.entry_id, c.other_id)
        for entry_id, target_id in first.items():
            entry = next(e for e in entries if e.id == entry_id)
            self._merge(entry, target_id)
        return [e for e in entries if e.id not in first]

    async def aimport_entries(self, entries: list[FaqEntry], replace: bool,
                              on_conflict: str | None = None) -> dict[str, int]:
        """`import_entries` from the event loop: conflicts are found on a worker thread (it
        may run the sentence model), the rows written on the store thread and the index
        rebuilt on a worker thread (see `areload`)."""
        entries = await asyncio.to_thread(self._resolve_import, entries, replace, on_conflict)
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
        return self.save(data, on_conflict="keep")  # the manager picked this entry

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

    async def amatch(self, text: str, **kwargs: Any) -> Match:
        """`engine.match` from the event loop: the lexical stage runs here; a question that
        needs a sentence vector gets it from the batcher's thread (concurrent questions are
        encoded in one model call), then is ranked again with it."""
        match = self.engine.match(text, encode=False, **kwargs)
        if match.pending and self.batcher is not None:
            vector = await self.batcher.vector(text)
            match = self.engine.match(text, vector=vector, after=match, **kwargs)
        return match

    async def apersist_vectors(self) -> None:
        if self.embedder is not None and self.embedder.dirty:
            await asyncio.to_thread(self.embedder.persist)

    # -- unanswered -------------------------------------------------------------------

    def clusters(self, threshold: float | None = None, limit: int = 2000) -> list[Cluster]:
        return self.cluster_rows(self.store.faq.open_unanswered(limit), threshold)

    def cluster_rows(self, rows: list[dict[str, Any]], threshold: float | None = None) -> list[Cluster]:
        """Clusters of unanswered rows (CPU, may run the sentence model: any thread)."""
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
            entry = self.save(data, on_conflict="keep")
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
