"""bench_whole.py with `[faq] semantic = true`: the same messages and FAQ, every figure named
with the suffix `_semantic` (pipeline_msgs_per_s_semantic, peak_rss_mb_semantic, …). A process
of its own, so its peak RSS includes the sentence model and nothing of the lexical run.

    python bench/bench_whole_semantic.py [--quick]
"""

from __future__ import annotations

import bench_whole
import common
from common import run_messages_benchmark

if __name__ == "__main__":
    common.SUFFIX = "_semantic"
    bench_whole.SEMANTIC = True
    run_messages_benchmark(bench_whole.run)
