"""Word-list import (messy real files), the CLI, and the evaluation harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from moderation.wordfile import WordFileError, parse

FIXTURES = Path(__file__).parent / "fixtures" / "moderation"


def test_messy_file_with_crlf_trailing_commas_comments_and_duplicates():
    data = "# 注释\r\n赌博,\r\n赌博\r\n\r\n一夜情，\n裸聊\t色情\n代开发票\t广告\t3\tkick\n".encode()
    result = parse(data, category="违法")
    assert [(w["word"], w["category"]) for w in result.words] == [
        ("赌博", "违法"), ("一夜情", "违法"), ("裸聊", "色情"), ("代开发票", "广告")]
    assert result.words[-1]["action"] == "kick" and result.words[-1]["severity"] == 3
    assert result.duplicates == 1 and result.comments == 1 and result.errors == []


def test_utf8_bom_is_detected_and_removed():
    result = parse("\ufeff赌博\n一夜情\n".encode())
    assert result.encoding == "utf-8-sig" and result.words[0]["word"] == "赌博"


def test_gbk_file_is_detected_and_converted():
    result = parse("赌博\n一夜情\n".encode("gbk"))
    assert result.encoding == "gbk" and [w["word"] for w in result.words] == ["赌博", "一夜情"]
    assert "GBK" in result.notes[0]


def test_binary_or_unknown_encoding_is_rejected_clearly():
    with pytest.raises(WordFileError, match="NUL"):
        parse(b"\x00\x01\x02abc")
    with pytest.raises(WordFileError, match="编码"):
        parse(bytes(range(0x80, 0xFF)) * 3)


def test_empty_and_one_character_words_rejected_unless_forced():
    result = parse("草\n,\n正常词\n".encode())
    assert [w["word"] for w in result.words] == ["正常词"]
    assert len(result.errors) == 2 and "第 1 行" in result.errors[0]
    forced = parse("草\n正常词\n".encode(), force=True)
    assert [w["word"] for w in forced.words] == ["草", "正常词"]


def test_bad_action_column_is_reported_with_line_number():
    result = parse("赌博\t赌博\t2\tobliterate\n".encode())
    assert result.words == [] and "第 1 行" in result.errors[0]


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[bot]\ndata_dir = 'data'\n", encoding="utf-8")
    return path


def test_cli_import_then_check_uses_the_new_words(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["moderation", "import", str(FIXTURES / "words.txt"), "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 24 and report["allowlist_added"] == 3
    assert main(["moderation", "check", "來玩百 家 樂", "--config", str(config), "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["hits"][0]["word"] == "百家乐" and check["action"] == "strike"
    # a second import adds nothing
    assert main(["moderation", "import", str(FIXTURES / "words.txt"), "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 0


def test_cli_import_rejects_gbk_garbage_and_one_char_words(tmp_path, capsys):
    config = write_config(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x00binary")
    assert main(["moderation", "import", str(bad), "--config", str(config)]) == 2
    assert "NUL" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("草\n赌博\n", encoding="utf-8")
    assert main(["moderation", "import", str(short), "--config", str(config)]) == 1
    assert "单字词" in capsys.readouterr().err
    assert main(["moderation", "import", str(short), "--force", "--config", str(config)]) == 0


def test_eval_reports_recall_fpr_and_speed_per_technique(tmp_path, capsys):
    config = write_config(tmp_path)
    args = ["moderation", "eval", "--words", str(FIXTURES / "words.txt"), str(FIXTURES / "cases.jsonl"), "--json"]
    assert main([*args, "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"recall", "false_positive_rate", "messages_per_second", "techniques"} <= set(report)
    techniques = report["techniques"]
    for name in ("noise-chars", "traditional", "fullwidth", "case", "digit-variants", "math-alphabet",
                 "repeats", "link", "phone", "wechat"):
        assert techniques[name]["recall"] == 1.0, name
    for name in ("innocent", "look-alike", "allowlist"):
        assert techniques[name]["false_positive_rate"] == 0.0, name
    assert techniques["homophone"]["recall"] == 1.0  # homophones are on by default (issue 22)
    assert report["messages_per_second"] > 0  # reported; how fast is bench_moderation's figure, not a test's


def test_eval_without_pinyin_misses_homophones(tmp_path, capsys):
    config = write_config(tmp_path)
    args = ["moderation", "eval", "--no-pinyin", "--words", str(FIXTURES / "words.txt"),
            str(FIXTURES / "cases.jsonl"), "--json", "--config", str(config)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["techniques"]["homophone"]["recall"] == 0.0
    assert report["techniques"]["allowlist"]["false_positive_rate"] == 0.0


def test_eval_rejects_a_broken_cases_file(tmp_path, capsys):
    config = write_config(tmp_path)
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"text": "x", "flag": true}\n{oops\n', encoding="utf-8")
    assert main(["moderation", "eval", "--words", str(FIXTURES / "words.txt"), str(cases),
                 "--config", str(config)]) == 2
    assert ":2:" in capsys.readouterr().err


def test_real_messy_word_lists_import_cleanly(shared_data):
    lexicon = shared_data / "lexicon"
    porn = parse((lexicon / "fwwdn-色情类.txt").read_bytes())
    assert all(not w["word"].endswith(",") for w in porn.words) and len(porn.words) > 250
    ads = parse((lexicon / "fwwdn-广告.txt").read_bytes())
    assert all("\r" not in w["word"] for w in ads.words) and len(ads.words) > 100
