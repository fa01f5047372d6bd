"""A burst: ten times a normal 100 msg/s for 30 s (5 s with --quick) over real HTTP.

The pipeline queue must stay bounded, the server must survive, and every acknowledged
message must be recorded. Exits non-zero otherwise.

    python bench/bench_burst.py [--quick]
"""

from __future__ import annotations

import sys

import bench_http

if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    sys.argv = [sys.argv[0], "--burst", *(["--seconds", "5"] if quick else [])]
    sys.exit(bench_http.main())
