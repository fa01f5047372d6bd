"""bench_whole.py with `[faq] semantic = true`: the same messages and FAQ, every figure named
with the suffix `_semantic` (pipeline_msgs_per_s_semantic, peak_rss_mb_semantic, …). A process
of its own, so its peak RSS includes the sentence model and nothing of the lexical run.
Eight messages (of eight different chats) are in the pipeline at once, as with the per-chat
workers in production: questions that need a sentence vector are then encoded together.

    python bench/bench_whole_semantic.py [--quick]
"""

from __future__ import annotations

import bench_whole
import common
from common import run_messages_benchmark

if __name__ == "__main__":
    common.SUFFIX = "_semantic"
    bench_whole.SEMANTIC = True
    bench_whole.CONCURRENT = 8
    run_messages_benchmark(bench_whole.run)
