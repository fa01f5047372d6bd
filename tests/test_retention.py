"""Retention (`qunbot prune`) and `qunbot backup` while the bot is writing."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.kernel.events import Decision
from bot.store import Store
from bot.store.base import iso
from bot.store.outbound import OutboundItem
from tests.reports_helpers import event, record

NOW = datetime.now(UTC)


def write_config(tmp_path: Path, extra: str = "") -> str:
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "data"}"\n{extra}', encoding="utf-8")
    return str(config)


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "qunbot.db"


def outbound(store: Store, source: str, status: str, created: datetime) -> None:
    [item] = store.outbound.insert([OutboundItem(source=source, occurrence="1", platform="sim",
                                                 chat_id="g1", payload={"text": source})])
    assert item.id is not None
    if status != "pending":
        store.outbound.mark(item.id, status)
    with store.outbound.tx() as conn:
        conn.execute("UPDATE outbound SET created_at = ? WHERE id = ?", (iso(created), item.id))


@pytest.fixture
def aged(tmp_path):
    """10 messages 200 days old, 3 from yesterday, and delivery rows of both ages."""
    with Store(db_path(tmp_path)) as store:
        for i in range(10):
            record(store, event("g1", f"old{i}", NOW - timedelta(days=200, minutes=i), "旧消息"),
                   Decision("intents", "pass"))
        for i in range(3):
            record(store, event("g1", f"new{i}", NOW - timedelta(days=1, minutes=i), "新消息"),
                   Decision("intents", "pass"))
        outbound(store, "old-pending", "pending", NOW - timedelta(days=200))
        outbound(store, "old-sending", "sending", NOW - timedelta(days=200))
        outbound(store, "old-sent", "sent", NOW - timedelta(days=200))
        outbound(store, "old-failed", "failed", NOW - timedelta(days=200))
        outbound(store, "new-sent", "sent", NOW - timedelta(days=1))
    return tmp_path


def counts(tmp_path: Path) -> dict[str, object]:
    conn = sqlite3.connect(db_path(tmp_path))
    try:
        return {
            "messages": conn.execute("SELECT count(*) FROM messages").fetchone()[0],
            "decisions": conn.execute("SELECT count(*) FROM decisions").fetchone()[0],
            "outbound": sorted(r[0] for r in conn.execute("SELECT source FROM outbound")),
        }
    finally:
        conn.close()


def test_prune_keeps_recent_messages_and_unsent_deliveries(aged, capsys):
    assert main(["prune", "--config", write_config(aged), "--older-than", "180d", "--batch", "3",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["messages"], result["decisions"], result["outbound"]) == (10, 10, 2)
    assert counts(aged) == {"messages": 3, "decisions": 3,
                            "outbound": ["new-sent", "old-pending", "old-sending"]}


def test_prune_defaults_to_the_configured_retention(aged, capsys):
    config = write_config(aged, 'retention = "365d"\n')
    assert main(["prune", "--config", config]) == 0
    assert counts(aged)["messages"] == 13
    assert "已删除" in capsys.readouterr().out
    assert main(["prune", "--config", write_config(aged, 'retention = "90d"\n')]) == 0
    assert counts(aged)["messages"] == 3


def test_retention_zero_keeps_everything(aged, capsys):
    assert main(["prune", "--config", write_config(aged, 'retention = "0"\n')]) == 0
    assert "不删除任何数据" in capsys.readouterr().out
    assert counts(aged)["messages"] == 13


def test_prune_dry_run_only_counts(aged, capsys):
    assert main(["prune", "--config", write_config(aged), "--dry-run", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["messages"] == 10 and result["outbound"] == 2
    assert counts(aged)["messages"] == 13


def test_bad_retention_is_a_config_error(tmp_path, capsys):
    assert main(["prune", "--config", write_config(tmp_path, 'retention = "half a year"\n')]) == 2
    assert "retention" in capsys.readouterr().err


def test_backup_while_a_writer_is_active_is_consistent(tmp_path, capsys):
    config = write_config(tmp_path)
    store = Store(db_path(tmp_path))
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        # the bot: one transaction per batch writes messages and their traces together
        while not stop.is_set():
            batch = [event("g1", "w", NOW, "x" * 200) for _ in range(50)]
            store.messages.record_batch([(e, "passed", False) for e in batch],
                                        [(e.uid, [Decision("intents", "pass")], "passed") for e in batch])
            written[0] += 50

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 2000:
            stop.wait(0.01)
        targets = [tmp_path / f"backup{i}.db" for i in range(3)]
        for target in targets:
            assert main(["backup", "--config", config, str(target)]) == 0
    finally:
        stop.set()
        thread.join()
        store.close()
    assert "完整性检查通过" in capsys.readouterr().out
    for target in targets:
        conn = sqlite3.connect(target)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            decisions = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
        finally:
            conn.close()
        assert messages >= 2000 and messages % 50 == 0 and messages == decisions
    assert not list(tmp_path.glob("*.partial"))


def test_backup_refuses_to_overwrite_without_force(tmp_path, capsys):
    config = write_config(tmp_path)
    Store(db_path(tmp_path)).close()
    target = tmp_path / "b.db"
    target.write_text("keep me")
    assert main(["backup", "--config", config, str(target)]) == 1
    assert "已存在" in capsys.readouterr().err and target.read_text() == "keep me"
    assert main(["backup", "--config", config, str(target), "--force"]) == 0
    assert sqlite3.connect(target).execute("SELECT count(*) FROM schema_version").fetchone()[0] >= 1


def test_backup_of_a_missing_database_is_a_clear_error(tmp_path, capsys):
    assert main(["backup", "--config", write_config(tmp_path), str(tmp_path / "b.db")]) == 1
    assert "数据库文件不存在" in capsys.readouterr().err
