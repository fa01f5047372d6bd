"""`qunbot … | head`: a reader that stops early ends the command quietly, not with a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_long_output_into_a_closed_pipe_exits_quietly(tmp_path):
    config = tmp_path / "config.toml"
    post = {"name": "每分钟", "text": "测试", "every": "1m", "groups": ["g_mom"]}
    config.write_text("[bot]\ndemo = true\ndata_dir = 'data'\n[console]\nport = 0\n[[posts]]\n"
                      + "\n".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in post.items()),
                      encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "schedule", "preview", "--days", "7", "--json", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # what `head -1` reads, then it goes away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.strip() == b"["
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 141
