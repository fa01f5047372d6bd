"""Helpers shared by the benchmarks: the machine line, figure printing, real chat text."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout (or beside a parent folder, for a git worktree)
SHARED = next((d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


# appended to every figure's name (a variant of a benchmark, e.g. "_semantic")
SUFFIX = ""


def figure(name: str, value: float, unit: str) -> None:
    """One figure per line: name<TAB>value<TAB>unit."""
    shown = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    print(f"{name}{SUFFIX}\t{shown}\t{unit}", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chat_lines(limit: int | None = None) -> list[str]:
    """Real short conversational Chinese (OPPO utterances), or a small built-in sample."""
    path = SHARED / "chat" / "oppo-utterances.txt"
    if path.exists():
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        print("# ../shared/data not found: using a built-in sample", file=sys.stderr)
        lines = ["你好", "今天发货吗", "怎么退款", "优惠券在哪里领", "哈哈哈", "谢谢", "这个多少钱"] * 1000
    return lines[:limit] if limit else lines


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency_figures(prefix: str, count: int, elapsed: float, latencies: list[float]) -> None:
    """Throughput and p50/p99 of a run of `count` messages."""
    figure(f"{prefix}_msgs_per_s", count / elapsed, "msg/s")
    figure(f"{prefix}_p50_ms", percentile(latencies, 50), "ms")
    figure(f"{prefix}_p99_ms", percentile(latencies, 99), "ms")


def run_messages_benchmark(run, quick: int = 5_000, full: int = 50_000) -> None:
    """The command line of a benchmark that replays N messages: `--quick` for a small N."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    asyncio.run(run(quick if args.quick else full))
