"""`qunbot faq …` and the FAQ file formats: import, export, eval, ask, validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from intents.faqfile import FaqFileError, parse_csv, parse_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "faq"


@pytest.fixture
def config(tmp_path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return str(path)


def run_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_on_the_tiny_fixture_gives_exact_numbers(capsys, config):
    # the lexical engine alone ([faq] semantic = false), as before the semantic score
    report = run_json(capsys, "faq", "eval", "--config", config, "--faq", str(FIXTURES / "faq.jsonl"),
                      "--questions", str(FIXTURES / "questions.jsonl"), "--json", "--lexical")
    assert report["semantic"] is False
    # 7 in-FAQ questions: "怎么退换" ranks refund first (return is 3rd)
    assert report["top1_accuracy"] == round(6 / 7, 4)
    assert report["top3_recall"] == 1.0
    # answered at 70: 發票怎麼開 (100), 退款几天能到账 (85, synonym 几天→多久),
    # 积分怎么兑换礼品 (80), 什么快递 (79) — all right
    assert report["answer_precision"] == 1.0
    assert report["answer_coverage"] == round(4 / 12, 4)
    assert report["correct_answer_rate"] == round(4 / 7, 4)
    assert report["offtopic_false_answer_rate"] == 0.0
    assert report["offtopic_by_kind"] == {"chitchat": 0.0, "in-domain-unknown": 0.0}
    # of the 3 unanswered in-FAQ questions, 2 offer the right entry as a suggestion
    assert report["suggest_hit_rate"] == round(2 / 3, 4)
    assert report["questions_per_second"] > 0
    row50 = next(r for r in report["sweep"] if r["answer_threshold"] == 50)
    assert row50["answer_coverage"] == 0.5 and row50["answer_precision"] == 1.0


def test_eval_with_the_semantic_score_ranks_the_paraphrase_lexical_matching_missed(capsys, config):
    report = run_json(capsys, "faq", "eval", "--config", config, "--faq", str(FIXTURES / "faq.jsonl"),
                      "--questions", str(FIXTURES / "questions.jsonl"), "--json")
    assert report["semantic"] is True
    # "怎么退换" now ranks the return entry first (lexical: third)
    assert report["top1_accuracy"] == 1.0
    assert report["offtopic_false_answer_rate"] == 0.0
    assert report["answer_precision"] == 1.0


def test_eval_text_output_has_the_threshold_sweep(capsys, config):
    assert main(["faq", "eval", "--config", config, "--faq", str(FIXTURES / "faq.jsonl"),
                 "--questions", str(FIXTURES / "questions.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "top-1 准确率" in out and "库外误答率" in out and "\n  90  " in out


def test_import_export_roundtrip_jsonl_and_csv(capsys, config, tmp_path):
    result = run_json(capsys, "faq", "import", str(FIXTURES / "faq.jsonl"), "--config", config, "--json")
    assert result == {"added": 8, "updated": 0, "removed": 0}
    out_jsonl, out_csv = tmp_path / "out.jsonl", tmp_path / "out.csv"
    assert main(["faq", "export", str(out_jsonl), "--config", config]) == 0
    assert main(["faq", "export", str(out_csv), "--config", config]) == 0
    original = parse_jsonl((FIXTURES / "faq.jsonl").read_text(encoding="utf-8"))
    assert parse_jsonl(out_jsonl.read_text(encoding="utf-8")) == sorted(original, key=lambda e: e.id)
    assert parse_csv(out_csv.read_text(encoding="utf-8")) == sorted(original, key=lambda e: e.id)


def test_replace_import_deletes_missing_entries_merge_keeps_them(capsys, config, tmp_path):
    main(["faq", "import", str(FIXTURES / "faq.jsonl"), "--config", config])
    capsys.readouterr()
    one = tmp_path / "one.jsonl"
    one.write_text('{"id": "gift", "answer": "满99送赠品", "questions": ["有赠品吗"]}\n', encoding="utf-8")
    assert run_json(capsys, "faq", "import", str(one), "--merge", "--config", config, "--json") == {
        "added": 1, "updated": 0, "removed": 0}
    assert run_json(capsys, "faq", "import", str(one), "--replace", "--config", config, "--json") == {
        "added": 0, "updated": 1, "removed": 8}
    listed = run_json(capsys, "faq", "list", "--config", config, "--json")
    assert [e["id"] for e in listed] == ["gift"]


def test_ask_prints_ranked_candidates_with_scores(capsys, config):
    main(["faq", "import", str(FIXTURES / "faq.jsonl"), "--config", config])
    capsys.readouterr()
    data = run_json(capsys, "faq", "ask", "發票怎麼開？", "--config", config, "--json")
    assert data["outcome"] == "answer"
    assert data["candidates"][0]["id"] == "invoice" and data["candidates"][0]["score"] == 100.0
    assert set(data["candidates"][0]["features"]) == {"char", "token", "overlap"}


def test_bad_file_is_rejected_with_line_number_and_nothing_imported(capsys, config, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "answer": "x", "questions": ["q"]}\n{"id": "b", "answer": ""}\n',
                   encoding="utf-8")
    assert main(["faq", "import", str(bad), "--config", config]) == 1
    assert "第 2 行" in capsys.readouterr().err
    assert run_json(capsys, "faq", "list", "--config", config, "--json") == []


@pytest.mark.parametrize(("text", "message"), [
    ('{"id": "a", "answer": "x", "questions": []}', "至少需要一个问法"),
    ('{"id": "a b", "answer": "x", "questions": ["q"]}', "id 不能为空"),
    ('{"id": "a", "answer": "x", "questions": ["q"], "colour": 1}', "未知字段 colour"),
    ('{"id": "a", "answer": "x", "questions": ["q"]}\n{"id": "a", "answer": "y", "questions": ["r"]}',
     "id 重复"),
    ("not json", "不是有效的 JSON"),
])
def test_jsonl_validation_errors_are_precise(text, message):
    with pytest.raises(FaqFileError, match=message):
        parse_jsonl(text)


def test_csv_needs_its_header_and_splits_phrasings_on_bar():
    with pytest.raises(FaqFileError, match="表头缺少列"):
        parse_csv("id,answer\na,b\n")
    [entry] = parse_csv("id,answer,questions,tags\nship,48小时发货,什么时候发货|多久发货,售后\n")
    assert entry.questions == ["什么时候发货", "多久发货"] and entry.tags == ["售后"]


def test_lcqmc_set_beats_the_brute_force_baseline(capsys, config, shared_data):
    lcqmc = shared_data / "faq" / "lcqmc"
    report = run_json(capsys, "faq", "eval", "--config", config,
                      "--faq", str(lcqmc / "faq.jsonl"),
                      "--questions", str(lcqmc / "questions.jsonl"), "--json")
    assert report["top1_accuracy"] > 0.951
    assert report["answer_precision"] >= 0.90
    assert report["offtopic_false_answer_rate"] <= 0.03


def test_invalid_faq_config_names_the_key(tmp_path):
    from bot.config import load_settings
    from bot.settings_loader import ConfigError

    path = tmp_path / "config.toml"
    path.write_text("[faq]\nanswer_threshold = 60\nsuggest_threshold = 65\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"faq\.suggest_threshold: 不能高于 answer_threshold"):
        load_settings(path)
    path.write_text('[faq]\nsuggest_ttl = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"faq\.suggest_ttl"):
        load_settings(path)
