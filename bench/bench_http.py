"""Throughput and ack latency over real HTTP: OneBot v11 events POSTed to a running bot.

Starts `qunbot run` in a subprocess on 127.0.0.1 with the OneBot adapter (HTTP POST with
X-Signature), then posts group messages at a fixed rate for a bounded time and reports
how long each POST took to be acknowledged (acknowledged = durably recorded). The bot's
database is seeded as in bench_whole (10,000 lexicon words, 500 keyword rules, 2,000 FAQ
phrasings), and the messages are the same real chat text; `--empty` skips the seeding.
Replies go to a stand-in OneBot v11 HTTP API in this process (POST /send_group_msg …
answered as go-cqhttp and NapCat do), through the outbox's default rate limits.

    python bench/bench_http.py [--quick] [--rate 1000] [--seconds 10] [--empty]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from bench_whole import corpus, seed
from common import ROOT, figure, machine, percentile

from bot.store import Store

SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event_body(i: int, text: str) -> bytes:
    return json.dumps({
        "time": int(time.time()), "self_id": 10000, "post_type": "message", "message_type": "group",
        "sub_type": "normal", "message_id": 1_000_000 + i, "group_id": 200 + i % 50, "user_id": 3000 + i % 997,
        "message": text, "raw_message": text, "font": 0,
        "sender": {"user_id": 3000 + i % 997, "nickname": f"成员{i % 997}", "card": ""},
    }, ensure_ascii=False).encode()


async def watch_queue(base: str, peaks: dict[str, int], stop: asyncio.Event) -> None:
    """Poll /healthz for the pipeline queue and outbox depth while the load runs."""
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                async with session.get(f"{base}/healthz") as resp:
                    body = await resp.json()
                peaks["queue"] = max(peaks.get("queue", 0), body.get("queue_depth", 0))
                peaks["outbox"] = max(peaks.get("outbox", 0), body.get("outbox_depth", 0))
            except (aiohttp.ClientError, ValueError):
                peaks["health_errors"] = peaks.get("health_errors", 0) + 1
            await asyncio.sleep(0.25)


async def onebot_api(port: int, calls: dict[str, int]) -> web.AppRunner:
    """The platform side of the bot's replies: OneBot v11 actions answered with retcode 0."""

    async def action(request: web.Request) -> web.Response:
        await request.read()
        name = request.match_info["action"]
        calls[name] = calls.get(name, 0) + 1
        return web.json_response({"status": "ok", "retcode": 0, "data": {"message_id": sum(calls.values())}})

    app = web.Application()
    app.router.add_post("/{action}", action)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def load(base: str, rate: int, seconds: float, lines: list[str],
               peaks: dict[str, int] | None = None, api_port: int | None = None,
               calls: dict[str, int] | None = None) -> tuple[list[float], int, int, float]:
    stop = asyncio.Event()
    api = await onebot_api(api_port, calls if calls is not None else {}) if api_port else None
    watcher = asyncio.create_task(watch_queue(base, peaks if peaks is not None else {}, stop))
    try:
        return await _load(base, rate, seconds, lines)
    finally:
        stop.set()
        await watcher
        if api is not None:
            await asyncio.sleep(1.0)  # replies already due are still being sent
            await api.cleanup()


async def _load(base: str, rate: int, seconds: float, lines: list[str]) -> tuple[list[float], int, int, float]:
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    sem = asyncio.Semaphore(256)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def post(i: int) -> None:
            nonlocal errors
            body = event_body(i, lines[i % len(lines)])
            sig = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
            t0 = time.perf_counter()
            try:
                async with sem, session.post(f"{base}/onebot/http", data=body, headers={
                    "Content-Type": "application/json", "X-Signature": sig, "X-Self-ID": "10000",
                }) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        tasks = []
        for i in range(total):
            target = started + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return latencies, errors, total, elapsed


def _peak_rss_mb(pid: int) -> float:
    """The bot process's own high-water mark (VmHWM), not the load generator's."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--empty", action="store_true", help="no lexicon, keyword rules or FAQ")
    parser.add_argument("--burst", action="store_true",
                        help="10x a normal 100 msg/s for 30 s: the queue must stay bounded, nothing lost")
    args = parser.parse_args()
    if args.burst:
        args.rate = 1000
    seconds = args.seconds or (30 if args.burst else 3 if args.quick else 10)
    prefix = "burst" if args.burst else "http"
    print(f"# machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        api_port = free_port()
        config.write_text(
            "[bot]\ndemo = false\ndata_dir = 'data'\n[logging]\nlevel = 'WARNING'\n"
            f"[adapters.onebot]\nenabled = true\nversion = 11\nsecret = '{SECRET}'\nself_id = '10000'\n"
            f"api_url = 'http://127.0.0.1:{api_port}'\n",
            encoding="utf-8",
        )
        if not args.empty:
            store = Store(Path(tmp) / "data" / "qunbot.db")
            sizes = seed(store)
            store.close()
            print(f"# lexicon {sizes['words']} words, {sizes['rules']} keyword rules, "
                  f"{sizes['phrasings']} FAQ phrasings")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config), "--port", str(port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.time() + 60
            assert proc.stdout is not None
            while time.time() < deadline and "console:" not in (proc.stdout.readline() or ""):
                if proc.poll() is not None:
                    print("# bot exited early", file=sys.stderr)
                    return 1
            time.sleep(0.5)
            lines = corpus(20_000)
            peaks: dict[str, int] = {}
            calls: dict[str, int] = {}
            latencies, errors, total, elapsed = asyncio.run(
                load(f"http://127.0.0.1:{port}", args.rate, seconds, lines, peaks, api_port, calls))
            survived = proc.poll() is None
            server_rss = _peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        db = sqlite3.connect(Path(tmp) / "data" / "qunbot.db")
        recorded = db.execute("SELECT count(*) FROM messages WHERE platform = 'onebot'").fetchone()[0]
        db.close()
    figure(f"{prefix}_offered_rate", args.rate, "msg/s")
    figure(f"{prefix}_msgs_per_s", (total - errors) / elapsed, "msg/s")
    figure(f"{prefix}_ack_p50_ms", percentile(latencies, 50), "ms")
    figure(f"{prefix}_ack_p99_ms", percentile(latencies, 99), "ms")
    figure(f"{prefix}_errors", errors, "requests")
    figure(f"{prefix}_acknowledged", total - errors, "messages")
    figure(f"{prefix}_recorded", recorded, "messages")
    figure(f"{prefix}_peak_queue_depth", peaks.get("queue", 0), "events")
    figure(f"{prefix}_peak_outbox_depth", peaks.get("outbox", 0), "deliveries")
    figure(f"{prefix}_replies_sent", calls.get("send_group_msg", 0), "messages")
    figure(f"{prefix}_server_survived", int(survived), "bool")
    figure(f"{prefix}_server_peak_rss_mb", server_rss, "MB")
    return 0 if recorded >= total - errors and survived else 1


if __name__ == "__main__":
    sys.exit(main())
