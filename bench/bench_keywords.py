"""Keyword engine throughput: messages/second for 500 and 5,000 rules, without and with fuzzy rules.

Rules are generated from community-operations vocabulary and from real utterances
(../shared/data/chat/oppo-utterances.txt), so a realistic share of messages hits a rule.
`keywords_msgs_per_s` measures the engine's match call (normalise + automaton + regex + fuzzy
candidates) for 500 non-fuzzy rules; `*_decide_*` lines add scope/time/cooldown checks and reply
building (the whole keyword stage minus the pipeline around it).

    .venv/bin/python bench/bench_keywords.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import SHARED  # noqa: E402

from bot.config import settings_from_dict  # noqa: E402
from bot.kernel.clock import FakeClock  # noqa: E402
from bot.kernel.events import ChatKind, Event  # noqa: E402
from bot.kernel.pipeline import Context  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.store import Store  # noqa: E402
from keywords.engine import KeywordEngine  # noqa: E402
from keywords.rules import clean_rule  # noqa: E402

UTTERANCES = SHARED / "chat" / "oppo-utterances.txt"

_VOCAB_TEXT = """
价格 优惠 优惠券 退款 退货 发货 快递 物流 会员 积分 秒杀 拼团 团购 报名 课程 奶粉 纸尿裤 红包
客服 售后 链接 二维码 群规 签到 抽奖 活动 满减 包邮 库存 尺码 颜色 预售 定金 尾款 发票 地址
团长 返现 代购 直播 福利 打卡 试用 新人 老带新 学生证 上班 宝宝 辅食 早教 VIP 年卡 续费
"""
VOCAB = _VOCAB_TEXT.split()
TAGS = ["学生", "宝妈", "上班族", "VIP"]
MODES_NO_FUZZY = ["contains"] * 45 + ["exact"] * 25 + ["prefix"] * 18 + ["regex"] * 12
MODES_FUZZY = ["contains"] * 40 + ["exact"] * 20 + ["prefix"] * 15 + ["regex"] * 10 + ["fuzzy"] * 15


def load_messages(limit: int) -> list[str]:
    if not UTTERANCES.exists():
        sys.exit(f"missing {UTTERANCES}: the shared data folder is needed for this benchmark")
    lines = [ln.strip() for ln in UTTERANCES.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines[:limit]


def make_rules(n: int, messages: list[str], fuzzy: bool, rng: random.Random) -> list[dict]:
    modes = MODES_FUZZY if fuzzy else MODES_NO_FUZZY
    specs: list[dict] = []
    seen: set[tuple[str, str]] = set()
    while len(specs) < n:
        mode = rng.choice(modes)
        source = rng.choice(messages)
        if mode == "exact":
            keyword = source if rng.random() < 0.5 else rng.choice(VOCAB)
        elif mode == "prefix":
            keyword = source[: rng.randint(2, 3)]
        elif mode == "contains":
            if rng.random() < 0.3 or len(source) < 4:
                keyword = rng.choice(VOCAB) + rng.choice(["", "吗", "多少", "怎么"])
            else:
                i = rng.randrange(0, len(source) - 3)
                keyword = source[i : i + rng.randint(3, 4)]
        elif mode == "regex":
            a, b = rng.sample(VOCAB, 2)
            keyword = rng.choice(
                [f"{a}.{{0,6}}{b}", rf"{a}\d+", f"(?:{a}|{b})(?:吗|呢|啊)", rf"订单\s*\d{{{rng.randint(4, 8)}}}"]
            )
        else:
            keyword = source if 4 <= len(source) <= 12 else rng.choice(messages)[:8]
        keyword = re.sub(r"[{}]", "", keyword).strip()
        if len(keyword) < 2 or (mode, keyword) in seen:
            continue
        seen.add((mode, keyword))
        spec = {
            "id": f"r{len(specs)}",
            "keyword": keyword,
            "match": mode,
            "reply": f"关于{keyword[:8]}：请看群公告 {{nickname}}",
            "priority": rng.choice([0, 0, 0, 1, 5]),
            "threshold": 85,
        }
        if rng.random() < 0.2:
            spec["tags"] = [rng.choice(TAGS)]
        if rng.random() < 0.1:
            spec["active"] = "08:00-23:00"
        if rng.random() < 0.3:
            spec["cooldown"] = "30s"
        specs.append(clean_rule(spec))
    return specs


def build_engine(specs: list[dict], tmp: Path) -> tuple[KeywordEngine, FakeClock, float]:
    settings = settings_from_dict({"bot": {"data_dir": str(tmp), "demo": False}}, tmp / "config.toml")
    clock = FakeClock(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
    services = Services(settings=settings, store=Store(tmp / f"bench{len(specs)}.db"), clock=clock,
                        rng=random.Random(1))
    engine = KeywordEngine(services)
    rows = [{"id": i + 1, "name": s["id"], "source": "bench", "spec": s, "enabled": True} for i, s in enumerate(specs)]
    started = time.perf_counter()
    engine.build(rows, [])
    return engine, clock, time.perf_counter() - started


def bench_match(engine: KeywordEngine, messages: list[str], rounds: int) -> tuple[float, int]:
    match = engine.match
    best, hits = 0.0, 0
    for _ in range(rounds):
        hits = 0
        started = time.perf_counter()
        for text in messages:
            if match(text):
                hits += 1
        best = max(best, len(messages) / (time.perf_counter() - started))
    return best, hits


def bench_decide(engine: KeywordEngine, clock: FakeClock, messages: list[str]) -> float:
    tags = [[], ["宝妈"], ["学生"], ["VIP"]]
    events = [
        Event(platform="sim", chat_id=f"g{i % 40}", chat_kind=ChatKind.GROUP, sender_id=f"u{i % 997}",
              sender_name="群友", message_id=str(i), time=clock.now(), text=text, chat_name=f"群{i % 40}")
        for i, text in enumerate(messages)
    ]
    contexts = [Context(now=clock.now(), chat_tags=tags[i % 4], chat_name=e.chat_name) for i, e in enumerate(events)]
    decide = engine.decide
    started = time.perf_counter()
    for event, ctx in zip(events, contexts, strict=True):
        decide(event, ctx)
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    args = parser.parse_args()
    messages = load_messages(20_000 if args.quick else 80_000)
    rounds = 1 if args.quick else 3
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (500, 5000):
            for fuzzy in (False, True):
                specs = make_rules(n, messages, fuzzy, rng)
                engine, clock, build_s = build_engine(specs, Path(tmp))
                rate, hits = bench_match(engine, messages, rounds)
                decide_rate = bench_decide(engine, clock, messages[:20_000])
                label = f"{n}_rules_{'with' if fuzzy else 'no'}_fuzzy"
                if n == 500 and not fuzzy:
                    print(f"keywords_msgs_per_s\t{rate:.0f}\tmsg/s")
                print(f"keywords_match_{label}\t{rate:.0f}\tmsg/s")
                print(f"keywords_decide_{label}\t{decide_rate:.0f}\tmsg/s")
                print(f"keywords_hit_rate_{label}\t{100 * hits / len(messages):.1f}\t%")
                print(f"keywords_build_{label}\t{build_s * 1000:.0f}\tms")
                engine.store.close()


if __name__ == "__main__":
    main()
