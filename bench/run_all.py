"""Runs every benchmark in bench/ and prints their figures (name<TAB>value<TAB>unit).

    python bench/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import machine

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = ["--quick"] if "--quick" in sys.argv[1:] else []
    print(f"# machine: {machine()}", flush=True)
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"# {script.name}", flush=True)
        result = subprocess.run([sys.executable, str(script), *quick], cwd=HERE.parent,
                                stdout=subprocess.PIPE, text=True)
        for line in result.stdout.splitlines():
            if not line.startswith("# machine"):
                print(line, flush=True)
        if result.returncode != 0:
            print(f"# {script.name} failed with exit code {result.returncode}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
