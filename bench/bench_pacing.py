"""Pacing of bulk sends on a fake clock: a 500-group broadcast on one OneBot account.

- `pacing_500_groups_finish_min`: simulated minutes until the last of 500 groups is sent with
  jitter 2s-8s (expected ~500 x 5 s = ~42 min);
- `pacing_max_sends_per_day`: the most bulk sends counted in a day with daily_budget = 300 and 500
  groups (never above the budget; the rest waits for the next day);
- `pacing_breaker_sent_before_pause`: sends before a risk-control error (retcode 100) at send 200
  paused the account (no bulk send after it until resumed);
- `pacing_reply_latency_max_s`: the slowest reply to a member during the fan-out (simulated seconds;
  the clock moves in 0.25 s steps, so 0.25 is "the next step").

    PYTHONPATH=. .venv/bin/python bench/bench_pacing.py
"""

from __future__ import annotations

import asyncio
import sys

from common import figure, machine

from tests.pacing_sim import simulate


async def run() -> None:
    full = await simulate(500, jitter="2s-8s", horizon=4 * 3600)
    assert full.finished_after is not None
    figure("pacing_500_groups_finish_min", full.finished_after / 60, "min")
    figure("pacing_reply_latency_max_s", max(full.reply_latencies), "s")
    budget = await simulate(500, jitter="2s-8s", budget=300, horizon=4 * 3600)
    figure("pacing_max_sends_per_day", budget.max_used, "msgs (budget 300)")
    breaker = await simulate(500, jitter="2s-8s", risk_after=200, horizon=3600)
    figure("pacing_breaker_sent_before_pause", breaker.bulk_sent, "msgs (risk error at 201)")
    figure("pacing_breaker_reply_latency_max_s", max(breaker.reply_latencies), "s")


def main() -> int:
    print(f"# machine: {machine()}", flush=True)
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
