"""FAQ matching speed: questions/s and latency with 2,000 and 20,000 phrasings.

FAQs are built from the public sets in ../shared/data: the ATEC + LCQMC FAQ phrasings
(824), padded with real short utterances from chat/oppo-utterances.txt to 2,000 and 20,000
phrasings. Queries are the sets' question lines (paraphrases, in-domain unknown, chit-chat)
plus 1,000 other utterances; no query is itself a phrasing. The question cache is cleared,
so every query is segmented by jieba. Throughput is counted in CPU seconds of this process (the machine is
shared; wall-clock figures are printed too, as `…_wall`; latency is per-question thread
CPU time, p99 wall-clock mostly shows other processes' load). Prints `name<TAB>value<TAB>unit`.

    .venv/bin/python bench/bench_faq.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED as DATA
from common import figure as emit
from common import peak_rss_mb, percentile

from intents.engine import FaqEngine
from intents.model import FaqEntry
from intents.normalize import normalize
from intents.semantic import Batcher, Embedder, UseModel, VectorStore, shared_model
from intents.tokenize import Tokenizer


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def phrasings_pool() -> tuple[list[tuple[str, str]], list[str]]:
    """(entry id, phrasing) pairs in a fixed order, and query texts that are not phrasings."""
    pairs: list[tuple[str, str]] = []
    queries: list[str] = []
    for name in ("atec", "lcqmc"):
        folder = DATA / "faq" / name
        for entry in load_jsonl(folder / "faq.jsonl"):
            pairs += [(entry["id"], q) for q in entry["questions"]]
        queries += [q["text"] for q in load_jsonl(folder / "questions.jsonl")]
    lines = (DATA / "chat" / "oppo-utterances.txt").read_text(encoding="utf-8").splitlines()
    utterances = list(dict.fromkeys(u.strip() for u in lines if len(u.strip()) >= 4))
    taken = {q for _, q in pairs} | set(queries)
    utterances = [u for u in utterances if u not in taken]
    # three utterances per padding entry, like an FAQ with a few phrasings each
    pairs += [(f"oppo-{i // 3}", u) for i, u in enumerate(utterances[:20_000])]
    queries += utterances[-1_000:]
    return pairs, queries


def build(tokenizer: Tokenizer, pairs: list[tuple[str, str]], size: int,
          embedder: Embedder | None = None) -> tuple[FaqEngine, float]:
    grouped: dict[str, list[str]] = {}
    for entry_id, text in pairs[:size]:
        grouped.setdefault(entry_id, []).append(text)
    engine = FaqEngine(tokenizer, embedder=embedder)
    started = time.perf_counter()
    engine.load(FaqEntry(id=k, answer=k, questions=v) for k, v in grouped.items())
    return engine, time.perf_counter() - started


def measure(engine: FaqEngine, queries: list[str]) -> dict[str, float]:
    """Throughput and per-question latency, in CPU time (thread) and wall-clock time."""
    for q in queries[:300]:  # warm CPU caches and lazy tables, then forget the questions
        engine.match(q)
    engine.tokenizer.clear_cache()
    normalize.cache_clear()
    if engine.embedder is not None:
        engine.embedder.clear_questions()
    cpu_lat, wall_lat = [], []
    cpu, wall = time.process_time(), time.perf_counter()
    for q in queries:
        c0, w0 = time.thread_time(), time.perf_counter()
        engine.match(q)
        cpu_lat.append(time.thread_time() - c0)
        wall_lat.append(time.perf_counter() - w0)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"qps": len(queries) / cpu, "qps_wall": len(queries) / wall,
            "p50": percentile(cpu_lat, 50) * 1000, "p99": percentile(cpu_lat, 99) * 1000,
            "p99_wall": percentile(wall_lat, 99) * 1000}


def brute_force_qps(pairs: list[tuple[str, str]], size: int,
                    queries: list[str], scorer) -> float:
    """The issue's baseline: rapidfuzz extractOne over every phrasing (jieba words joined)."""
    import rjieba
    from rapidfuzz import process

    choices = [" ".join(rjieba.cut(t)) for _, t in pairs[:size]]
    started = time.process_time()
    for q in queries:
        process.extractOne(" ".join(rjieba.cut(q)), choices, scorer=scorer)
    return len(queries) / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries, skip the baseline")
    args = parser.parse_args()
    if not (DATA / "faq").is_dir():
        print(f"skipped: {DATA / 'faq'} not found", file=sys.stderr)
        return 0
    started = time.perf_counter()
    tokenizer = Tokenizer()
    emit("faq_tokenizer_load_s", time.perf_counter() - started, "s")
    pairs, queries = phrasings_pool()
    if args.quick:
        queries = queries[::4]
    for size, suffix in ((2_000, ""), (20_000, "_20k")):
        engine, build_s = build(tokenizer, pairs, size)
        m = measure(engine, queries)
        emit(f"faq_index_build_s{suffix}", build_s, "s")
        emit(f"faq_questions_per_s{suffix}", m["qps"], "q/s")
        emit(f"faq_questions_per_s_wall{suffix}", m["qps_wall"], "q/s")
        emit(f"faq_p50_ms{suffix}", m["p50"], "ms")
        emit(f"faq_p99_ms{suffix}", m["p99"], "ms")
        emit(f"faq_p99_ms_wall{suffix}", m["p99_wall"], "ms")
        if suffix == "":
            edit = FaqEntry(id="bench-edit", answer="x", questions=["新增的问法一", "新增的问法二"])
            t0 = time.perf_counter()
            engine.upsert(edit)
            engine.match("新增的问法一")
            emit("faq_edit_then_answer_ms", (time.perf_counter() - t0) * 1000, "ms")
        if not args.quick:
            from rapidfuzz import fuzz

            for name, scorer in (("token_set", fuzz.token_set_ratio), ("ratio", fuzz.ratio)):
                emit(f"faq_bruteforce_{name}_questions_per_s{suffix}",
                     brute_force_qps(pairs, size, queries[:500], scorer), "q/s")
    emit("faq_peak_rss_mb", peak_rss_mb(), "MB")
    semantic(tokenizer, pairs, queries)
    return 0


def measure_batched(engine: FaqEngine, batcher: Batcher, queries: list[str], concurrent: int) -> float:
    """Questions per CPU second when `concurrent` questions arrive together, as the bot's
    stage asks: lexical first, then a vector from the batcher for the questions that need one."""
    async def ask(q: str) -> None:
        match = engine.match(q, encode=False)
        if match.pending:
            engine.match(q, vector=await batcher.vector(q))

    async def run() -> None:
        for i in range(0, len(queries), concurrent):
            await asyncio.gather(*(ask(q) for q in queries[i:i + concurrent]))

    assert engine.embedder is not None
    engine.embedder.clear_questions()
    engine.tokenizer.clear_cache()
    normalize.cache_clear()
    cpu = time.process_time()
    asyncio.run(run())
    return len(queries) / (time.process_time() - cpu)


def semantic(tokenizer: Tokenizer, pairs: list[tuple[str, str]], queries: list[str]) -> None:
    """The same questions with the sentence-embedding score ([faq] semantic = true), and the
    start-up with 20,000 phrasings whose vectors are in the disk cache."""
    started = time.perf_counter()
    model = shared_model()
    emit("faq_model_load_s_semantic", time.perf_counter() - started, "s")
    with tempfile.TemporaryDirectory() as tmp:
        cold = Embedder(model, VectorStore(tmp, model.name))
        engine, build_s = build(tokenizer, pairs, 2_000, cold)
        emit("faq_index_build_cold_s_semantic", build_s, "s")
        before = cold.encoded_questions
        m = measure(engine, queries)
        # one question at a time: per-question CPU time (each needing a vector runs the model alone)
        emit("faq_questions_per_s_semantic_sequential", m["qps"], "q/s")
        emit("faq_p50_ms_semantic", m["p50"], "ms")
        emit("faq_p99_ms_semantic", m["p99"], "ms")
        emit("faq_p99_ms_wall_semantic", m["p99_wall"], "ms")
        # the share of questions that needed a vector (the others were settled lexically)
        emit("faq_encoded_share_semantic", 100 * (cold.encoded_questions - before) / (len(queries) + 300), "%")
        # busy chats: 8 questions at once are encoded in one model call
        emit("faq_questions_per_s_semantic", measure_batched(engine, Batcher(cold), queries, 8), "q/s")
        engine, build_s = build(tokenizer, pairs, 20_000, cold)
        emit("faq_index_build_cold_s_semantic_20k", build_s, "s")
        cold.persist()
        del engine
        # a restart: vectors from the disk cache (the model loads on a thread meanwhile)
        started = time.perf_counter()
        warm = Embedder(UseModel, VectorStore(tmp, model.name))
        engine, _ = build(tokenizer, pairs, 20_000, warm)
        emit("faq_startup_s_semantic_20k", time.perf_counter() - started, "s")
        emit("faq_startup_encoded_semantic_20k", warm.encoded, "phrasings")
        m = measure(engine, queries)
        emit("faq_questions_per_s_semantic_sequential_20k", m["qps"], "q/s")
        emit("faq_p99_ms_semantic_20k", m["p99"], "ms")
    emit("faq_peak_rss_mb_semantic", peak_rss_mb(), "MB")


if __name__ == "__main__":
    sys.exit(main())
