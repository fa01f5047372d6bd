"""The whole pipeline on real chat text: 10,000 lexicon words, 500 keyword rules, 2,000 FAQ
phrasings, recording to SQLite and answering through the outbox.

    python bench/bench_whole.py [--quick]

Prints messages/second, the per-stage time split, p50/p99 latency and peak RSS.
"""

from __future__ import annotations

import asyncio
import csv
import random
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from common import (
    SHARED,
    chat_lines,
    figure,
    latency_figures,
    peak_rss_mb,
    run_messages_benchmark,
)

from bot.adapters.sim import SimAdapter
from bot.config import settings_from_dict
from bot.kernel.events import ChatKind, Event
from bot.runtime import Bot
from bot.store import Store

GROUPS = 50
# [faq] semantic: the figures without a suffix measure the lexical engine alone (see
# bench_whole_semantic.py for the same run with the sentence-embedding score)
SEMANTIC = False
# events handled at once (1: one after another). In production each chat has its worker, so
# messages of different chats are in the pipeline together; the semantic variant measures
# that (its question vectors are then encoded in batches)
CONCURRENT = 1
TAGS = ["学生", "宝妈", "上班族", "VIP"]


def corpus(n: int) -> list[str]:
    """Real group-chat lines: OPPO utterances mixed with the labelled spam/ham set (1 in 5)."""
    lines = chat_lines(n)
    spam_path = SHARED / "chat" / "tg-spam-train.csv"
    if spam_path.exists():
        with spam_path.open(encoding="utf-8") as f:
            rows = [r["input"] for r in csv.DictReader(f) if r.get("input")]
        random.Random(3).shuffle(rows)
        mixed = []
        for i, line in enumerate(lines):
            mixed.append(rows[i % len(rows)] if i % 5 == 4 else line)
        lines = mixed
    return lines


def seed(store: Store) -> dict[str, int]:
    from bench_faq import phrasings_pool
    from bench_keywords import make_rules
    from bench_moderation import load_words

    for g in range(GROUPS):
        store.chats.upsert_chat("sim", f"g{g}", name=f"群{g}", tags=[TAGS[g % len(TAGS)]])
    words = load_words(10_000)
    store.lexicon.add_words({"word": w["word"], "category": "其他", "action": "review"} for w in words)
    specs = make_rules(500, chat_lines(20_000), False, random.Random(5))
    store.keywords.save_rules(specs, source="bench")
    pairs, _ = phrasings_pool()
    grouped: dict[str, list[str]] = defaultdict(list)
    for entry_id, text in pairs[:2_000]:
        grouped[entry_id].append(text)
    store.faq.import_entries(
        [{"id": k, "answer": f"答案 {k}", "questions": v, "tags": []} for k, v in grouped.items()], True,
    )
    return {"words": len(words), "rules": len(specs), "phrasings": sum(map(len, grouped.values()))}


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict(
            {"bot": {"data_dir": tmp, "demo": False}, "faq": {"semantic": SEMANTIC},
             "outbox": {"per_target_per_minute": 100000, "per_adapter_per_minute": 1000000}},
            Path(tmp) / "config.toml",
        )
        store = Store(settings.database_path)
        sizes = seed(store)
        print(f"# lexicon {sizes['words']} words, {sizes['rules']} keyword rules, {sizes['phrasings']} FAQ phrasings")
        started_load = time.perf_counter()
        bot = Bot(settings, store, adapters={"sim": SimAdapter()})
        await bot.start()
        figure("pipeline_startup_s", time.perf_counter() - started_load, "s")
        now = datetime.now(UTC)
        texts = corpus(n)
        # built one at a time, as an adapter would: the benchmark's own memory stays out of RSS
        events = (
            Event(platform="sim", chat_id=f"g{i % GROUPS}", chat_kind=ChatKind.GROUP,
                  sender_id=f"u{i % 1997}", sender_name=f"成员{i % 1997}", message_id=f"w{i}",
                  time=now, text=text, to_me=i % 10 == 0)
            for i, text in enumerate(texts)
        )
        latencies: list[float] = []
        committing: asyncio.Future | None = None
        commit_wait = 0.0
        started, started_cpu = time.perf_counter(), time.process_time()
        window: list[Event] = []

        async def timed(event: Event) -> None:
            t0 = time.perf_counter()
            await bot.handle(event)
            latencies.append((time.perf_counter() - t0) * 1000)

        for i, event in enumerate(events):
            if CONCURRENT > 1:
                # consecutive messages are in different chats (i % GROUPS): like the workers
                window.append(event)
                if len(window) < CONCURRENT and i % 1000 != 999:
                    continue
                await asyncio.gather(*(timed(e) for e in window))
                window = []
            else:
                await timed(event)
            if i % 1000 == 999:
                # Intake waits for the group commit, as in production, where the workers go on
                # with messages already accepted meanwhile: so each checkpoint waits for the
                # previous one's commit. The writer sets the pace; the backlog stays bounded.
                if committing is not None:
                    t_wait = time.perf_counter()
                    await committing
                    commit_wait += time.perf_counter() - t_wait
                committing = bot.recorder.durable()
            elif i % 200 == 0:
                await asyncio.sleep(0)  # let the outbox run, as in production
        if window:
            await asyncio.gather(*(timed(e) for e in window))
        await bot.recorder.flush()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - started_cpu
        # stage times and outcomes as the bot's own /metrics counts them
        stage_s = {name: hist.sum for name, hist in bot.metrics.stages.items()}
        faq = bot.faq_stage.faq
        encoded = (faq.embedder.encoded_questions, faq.batcher.batches) if faq.embedder and faq.batcher else None
        statuses = dict(bot.metrics.by_status)
        await bot.outbox.drain(timeout=120)
        await bot.stop()
        recorded = store.messages.count("in")
        store.close()
    assert recorded == len(texts), f"recorded {recorded} of {len(texts)}"
    latency_figures("pipeline", len(texts), elapsed, latencies)
    # the part of the run the event loop sat waiting for the writer thread
    figure("pipeline_commit_wait_s", commit_wait, "s")
    # CPU seconds of every thread (the writer's SQLite work runs beside the event loop):
    # messages per CPU-second is the per-core figure, and steadier on a shared machine
    figure("pipeline_msgs_per_cpu_s", len(texts) / cpu, "msg/s")
    total_stage = sum(stage_s.values()) or 1.0
    for stage, seconds in stage_s.items():
        figure(f"pipeline_stage_{stage}_share", 100 * seconds / total_stage, "%")
        figure(f"pipeline_stage_{stage}_us_per_msg", 1e6 * seconds / len(texts), "us")
    for status, count in sorted(statuses.items()):
        figure(f"pipeline_outcome_{status}", count, "messages")
    if encoded is not None:
        # questions that needed a sentence vector, and the model calls that encoded them
        figure("pipeline_faq_encoded", encoded[0], "questions")
        figure("pipeline_faq_encode_batches", encoded[1], "calls")
    figure("peak_rss_mb", peak_rss_mb(), "MB")


if __name__ == "__main__":
    run_messages_benchmark(run)
