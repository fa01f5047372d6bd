"""Adapter cost in process, over real HTTP / WebSocket on 127.0.0.1:

- WeCom: the adapter's own work per callback (signature, AES decrypt, corp id, safe XML,
  mapping); then encrypted callbacks POSTed 64 at a time to the whole app (durable intake,
  the pipeline running in the same process as the load generator): acks per second, latency.
- OneBot v11: group messages pushed over one reverse WebSocket; events per second until all
  are recorded.

    python bench/bench_adapters.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from common import ROOT, chat_lines, figure, machine, percentile

sys.path.insert(0, str(ROOT))

from bot.adapters.callback_guard import parse_xml
from bot.adapters.wxcrypto import WxCrypto
from bot.config import settings_from_dict
from bot.web.app import create_app
from bot.web.keys import STORE

TOKEN, KEY, CORP = (
    "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    "ww1436e0e65a779aee",
)
ONEBOT_TOKEN = "bench-token"


async def fake_wecom() -> TestServer:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": "T", "expires_in": 7200})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    server = TestServer(app)
    await server.start_server()
    return server


def wecom_requests(n: int, lines: list[str]) -> list[tuple[dict, str]]:
    crypto = WxCrypto("wecom", TOKEN, KEY, CORP)
    ts = str(int(time.time()))
    out = []
    for i in range(n):
        text = lines[i % len(lines)].replace("]]>", "")
        plain = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[u{i % 500}]]></FromUserName>"
                 f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
                 f"<MsgId>{7_000_000_000 + i}</MsgId><AgentID>1000002</AgentID></xml>")
        env = parse_xml(crypto.encrypt_reply(plain, str(10_000_000 + i), ts))
        body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
        out.append(({"msg_signature": env["MsgSignature"], "timestamp": ts, "nonce": str(10_000_000 + i)}, body))
    return out


async def bench_wecom(base: str, requests: list[tuple[dict, str]]) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(64)
    async with aiohttp.ClientSession() as session:

        async def post(params: dict, body: str) -> None:
            nonlocal errors
            async with sem:
                t0 = time.perf_counter()
                async with session.post(f"{base}/wecom/callback", params=params, data=body) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(post(p, b) for p, b in requests))
        return time.perf_counter() - started, latencies, errors


async def bench_onebot(base: str, store, n: int, lines: list[str]) -> float:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{base}/onebot/ws", headers={
            "Authorization": f"Bearer {ONEBOT_TOKEN}", "X-Self-ID": "10000", "X-Client-Role": "Universal"})
        now = int(time.time())
        started = time.perf_counter()
        for i in range(n):
            await ws.send_json({
                "time": now, "self_id": 10000, "post_type": "message", "message_type": "group",
                "message_id": 5_000_000 + i, "group_id": 100 + i % 20, "user_id": 2000 + i % 300,
                "message": lines[i % len(lines)], "sender": {"nickname": f"成员{i % 300}"},
            })
        last = f"onebot:{5_000_000 + n - 1}"
        while not await store.run(store.messages.exists, last):
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        await ws.close()
        return elapsed


def bench_open(requests: list[tuple[dict, str]]) -> float:
    """The adapter's own work per callback, without HTTP: parse, verify, decrypt, parse, map."""
    from bot.adapters.wx_events import to_events

    crypto = WxCrypto("wecom", TOKEN, KEY, CORP)
    started = time.perf_counter()
    for params, body in requests:
        outer = parse_xml(body)
        plain = crypto.decrypt(outer["Encrypt"], params["msg_signature"], params["timestamp"], params["nonce"])
        to_events("wecom", parse_xml(plain))
    return (time.perf_counter() - started) / len(requests) * 1e6


async def main(quick: bool) -> None:
    n = 500 if quick else 3000
    lines = chat_lines(5000) or ["今晚八点秒杀开始", "怎么退款", "有优惠券吗"]
    api = await fake_wecom()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({
            "bot": {"data_dir": tmp, "demo": False},
            "outbox": {"per_target_per_minute": 100000, "per_adapter_per_minute": 100000},
            "adapters": {
                "wecom": {"enabled": True, "corp_id": CORP, "agent_id": "1000002", "secret": "s", "token": TOKEN,
                          "encoding_aes_key": KEY, "api_base": str(api.make_url(""))},
                "onebot": {"enabled": True, "access_token": ONEBOT_TOKEN},
            },
        }, Path(tmp) / "config.toml")
        server = TestServer(create_app(settings))
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        requests = wecom_requests(n, lines)
        figure("wecom_open_us", bench_open(requests), "us/callback")
        elapsed, latencies, errors = await bench_wecom(base, requests)
        figure("wecom_callbacks_per_s", n / elapsed, "msg/s")
        figure("wecom_ack_p50_ms", percentile(latencies, 50), "ms")
        figure("wecom_ack_p99_ms", percentile(latencies, 99), "ms")
        figure("wecom_errors", errors, "requests")
        elapsed = await bench_onebot(base, server.app[STORE], n, lines)
        figure("onebot_ws_events_per_s", n / elapsed, "msg/s")
        await server.close()
    await api.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 messages instead of 3000")
    args = parser.parse_args()
    print(f"# machine: {machine()}")
    asyncio.run(main(args.quick))
