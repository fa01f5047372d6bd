"""Process metrics in Prometheus text exposition format 0.0.4.

The hot path costs one `observe(outcome)` per message: a dict lookup and a bisect per stage
into fixed buckets, no allocation beyond the first message of a new stage or status. Gauges
(queue depth, outbox rows and lag) are read when /metrics is scraped.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import __version__

if TYPE_CHECKING:
    from bot.kernel.pipeline import Outcome
    from bot.runtime import Bot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# seconds: stages take microseconds when nothing matches, milliseconds when the store is involved
BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    """Fixed-bucket histogram; counts are per bucket, made cumulative when rendered."""

    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def lines(self, name: str, labels: dict[str, str]) -> Iterable[str]:
        running = 0
        for bound, n in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            yield f"{name}_bucket{_labels({**labels, 'le': le})} {running}"
        yield f"{name}_sum{_labels(labels)} {_num(self.sum)}"
        yield f"{name}_count{_labels(labels)} {self.count}"


class Metrics:
    """Counters and histograms the running bot updates; rendered by `render()`."""

    def __init__(self) -> None:
        self.stages: dict[str, Histogram] = {}
        self.pipeline = Histogram()
        self.by_status: dict[str, int] = {}
        self.by_decision: dict[tuple[str, str], int] = {}

    def count_duplicate(self) -> None:
        """A platform retry caught by dedupe when the event was handed over."""
        self.by_status["duplicate"] = self.by_status.get("duplicate", 0) + 1

    def observe(self, outcome: Outcome) -> None:
        """Record one handled message: its final status, deciding stage and per-stage latency."""
        total = 0.0
        stages = self.stages
        for d in outcome.decisions:
            seconds = d.elapsed_ms / 1000.0
            total += seconds
            hist = stages.get(d.stage)
            if hist is None:
                hist = stages[d.stage] = Histogram()
            hist.observe(seconds)
        self.pipeline.observe(total)
        self.by_status[outcome.status] = self.by_status.get(outcome.status, 0) + 1
        if outcome.decisions:
            last = outcome.decisions[-1]
            if last.stop:
                key = (last.stage, last.outcome)
                self.by_decision[key] = self.by_decision.get(key, 0) + 1


def render(bot: Bot, outbox_gauges: dict[str, Any], now: datetime) -> str:
    """The exposition text: counters of this process plus gauges read now."""
    m: Metrics = bot.metrics
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{_labels(labels)} {_num(value)}" for labels, value in samples)

    family("qunbot_info", "gauge", "Build information.", [({"version": __version__}, 1)])
    family("qunbot_messages_in_total", "counter", "Inbound events handled, by final status.",
           [({"status": s}, n) for s, n in sorted(m.by_status.items())])
    family("qunbot_messages_recorded_total", "counter", "Messages written to the database by this process.",
           [({}, bot.recorder.flushed_messages)])
    family("qunbot_deferred_writes_dropped_total", "counter",
           "Deferred writes (hit counters, FAQ log, flags) set aside after failing repeatedly.",
           [({}, getattr(bot.recorder, "deferred_dropped", 0))])
    family("qunbot_decisions_total", "counter", "Messages stopped by a stage, by stage and outcome.",
           [({"stage": s, "outcome": o}, n) for (s, o), n in sorted(m.by_decision.items())])
    blocks = sum(n for (s, o), n in m.by_decision.items() if s == "moderation" and o in ("blocked", "held"))
    family("qunbot_blocks_total", "counter", "Messages blocked or held by moderation.", [({}, blocks)])
    family("qunbot_replies_sent_total", "counter", "Outbound messages delivered by the outbox.",
           [({}, bot.outbox.sent_count)])
    family("qunbot_outbox_failed_total", "counter", "Outbound messages that failed permanently.",
           [({}, bot.outbox.failed_count)])
    keywords = getattr(getattr(bot, "keyword_stage", None), "engine", None)
    family("qunbot_keyword_regex_timeouts_total", "counter",
           "Keyword regex runs stopped at their time budget (treated as not matching).",
           [({}, getattr(keywords, "regex_timeouts", 0))])
    family("qunbot_queue_depth", "gauge", "Inbound events waiting for a pipeline worker.",
           [({}, bot.queue_depth())])
    family("qunbot_recorder_pending", "gauge", "Messages and traces waiting to be written.",
           [({}, bot.recorder.pending())])
    family("qunbot_outbox_depth", "gauge", "Outbound items scheduled or in flight in this process.",
           [({}, bot.outbox.depth())])
    statuses = {"pending": 0, "sending": 0, "sent": 0, "failed": 0, "skipped": 0, "uncertain": 0}
    statuses.update(outbox_gauges.get("by_status", {}))
    family("qunbot_outbox_rows", "gauge", "Delivery ledger rows by status.",
           [({"status": s}, n) for s, n in sorted(statuses.items())])
    family("qunbot_outbox_lag_seconds", "gauge", "Age of the oldest pending delivery that is due.",
           [({}, _lag(outbox_gauges.get("oldest_pending_due"), now))])
    out.append("# HELP qunbot_stage_duration_seconds Time spent in each pipeline stage.")
    out.append("# TYPE qunbot_stage_duration_seconds histogram")
    for stage in sorted(m.stages):
        out.extend(m.stages[stage].lines("qunbot_stage_duration_seconds", {"stage": stage}))
    out.append("# HELP qunbot_pipeline_duration_seconds Time through the whole pipeline per message.")
    out.append("# TYPE qunbot_pipeline_duration_seconds histogram")
    out.extend(m.pipeline.lines("qunbot_pipeline_duration_seconds", {}))
    return "\n".join(out) + "\n"


def _lag(oldest_due: str | None, now: datetime) -> float:
    if not oldest_due:
        return 0.0
    return max(0.0, (now - datetime.fromisoformat(oldest_due)).total_seconds())


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))
