"""The learned spam score: trained at run time, only ever holds for review until it is accurate."""

from __future__ import annotations

import json

from bot.cli import main
from moderation.config import ModerationSettings, RuleSettings
from moderation.engine import Moderator
from moderation.spam import SpamModel, train
from moderation.spamdata import read_labelled, split

SPAM = ["兼职刷单日赚三百私聊", "刷单兼职日结工资", "日赚三百兼职刷单", "高薪兼职刷单返利", "刷单返利日结"] * 6
HAM = ["明天几点开始秒杀", "宝宝今天发烧了", "这个奶粉好用吗", "谢谢群主的分享", "晚上一起吃饭吧"] * 6


def samples():
    return [(t, True) for t in SPAM] + [(t, False) for t in HAM]


def test_model_scores_spam_high_and_ham_low():
    model = SpamModel.fit(samples())
    assert model.probability("兼职刷单日赚") > 0.9
    assert model.probability("明天宝宝吃饭") < 0.1


def test_too_few_samples_means_no_model():
    assert train([("刷单", True)] * 5 + [("你好", False)] * 5, 0.9) is None


# ham that talks about the scam: these land in the held-out fifth (crc32 % 5 == 0) and the
# model trained without them scores them as spam, so its measured false-positive rate is 20%
WARNINGS = ["有人说兼职刷单日赚三百是骗子", "刷单兼职日结都是骗局", "兼职刷单返利千万别信"]


def moderator_trained_on(tmp_path, extra_ham: list[str]):
    from bot.store import Store

    store = Store(tmp_path / "q.db")
    store.lexicon.add_samples(samples() + [(t, False) for t in extra_ham], "test")
    settings = ModerationSettings(rules=RuleSettings(spam_action="kick", spam_threshold=0.9))
    m = Moderator(settings, store)
    m.reload()
    return store, m


def test_spam_score_holds_for_review_when_held_out_false_positives_are_too_many(tmp_path):
    store, m = moderator_trained_on(tmp_path, WARNINGS)
    # a spam text none of the warnings contains word for word: still scored as spam
    verdict = m.check_text("刷单兼职日结工资")
    hit = next(h for h in verdict.hits if h.rule == "spam_score")
    assert hit.action == "review"
    assert m.check_text("明天几点开始秒杀").hits == []
    store.close()


def test_spam_score_punishes_as_configured_once_proven_on_held_out_samples(tmp_path):
    store, m = moderator_trained_on(tmp_path, [])
    hit = next(h for h in m.check_text("兼职刷单日赚三百").hits if h.rule == "spam_score")
    assert hit.action == "kick"
    store.close()


def test_unproven_model_never_punishes():
    model = SpamModel.fit(samples())
    model.holdout_fpr = 0.05
    m = Moderator(ModerationSettings(rules=RuleSettings(spam_action="kick", spam_threshold=0.9)))
    m.load([], spam=model)
    assert m.check_text("兼职刷单日赚三百").action == "review"


def test_train_command_imports_labelled_csv(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[bot]\ndata_dir = 'data'\n", encoding="utf-8")
    csv = tmp_path / "labelled.csv"
    csv.write_text("label,text\n1,加我微信领福利\n0,今天天气不错\n", encoding="utf-8")
    assert main(["moderation", "train", str(csv), "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": 2, "spam": 1, "ham": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\nmaybe,嗯\n", encoding="utf-8")
    assert main(["moderation", "train", str(bad), "--config", str(config)]) == 2


def test_held_out_quality_on_real_spam(shared_data):
    """At the shipped threshold the learned score catches 80% of spam with at most 2% false positives."""
    train_rows, held = split(read_labelled(shared_data / "chat" / "tg-spam-train.csv"))
    assert not {t for t, _ in train_rows} & {t for t, _ in held}
    settings = ModerationSettings()
    norm = Moderator(settings).normalizer
    model = SpamModel.fit([(norm(t).compact, y) for t, y in train_rows], [t for t, _ in train_rows])
    from moderation.spam import evaluate

    quality = evaluate(model, [(norm(t).compact, y) for t, y in held], settings.rules.spam_threshold,
                       [t for t, _ in held])
    assert quality["recall"] >= 0.80
    assert quality["false_positive_rate"] <= 0.02


def write_labelled(path, rows):
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows([(1 if y else 0, t) for t, y in rows])


def test_spam_eval_trains_on_one_file_and_evaluates_on_another(shared_data, tmp_path, capsys):
    train_rows, held = split(read_labelled(shared_data / "chat" / "tg-spam-train.csv"))
    write_labelled(tmp_path / "train.csv", train_rows)
    write_labelled(tmp_path / "eval.csv", held)
    code = main(["moderation", "spam-eval", "--train", str(tmp_path / "train.csv"),
                 "--eval", str(tmp_path / "eval.csv"), "--json", "--config", str(tmp_path / "none.toml")])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trained_on"] == len(train_rows) and report["held_out"] == len(held)
    for key in ("score", "combined"):
        assert set(report[key]) >= {"recall", "false_positive_rate", "precision", "threshold"}
        assert report[key]["threshold"] == ModerationSettings().rules.spam_threshold
    assert report["score"]["recall"] >= 0.80 and report["score"]["false_positive_rate"] <= 0.02
    # lexicon and rules only add hits
    assert report["combined"]["recall"] >= report["score"]["recall"]


def test_spam_eval_texts_in_both_files_are_only_trained_on(tmp_path, capsys):
    rows = samples()
    write_labelled(tmp_path / "a.csv", rows)
    write_labelled(tmp_path / "b.csv", [*rows, ("今晚八点团购开始", False)])
    assert main(["moderation", "spam-eval", "--train", str(tmp_path / "a.csv"), "--eval", str(tmp_path / "b.csv"),
                 "--json", "--config", str(tmp_path / "none.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["held_out"] == 1


def test_spam_eval_refuses_a_half_given_or_mixed_form(shared_data, tmp_path, capsys):
    data = str(shared_data / "chat" / "tg-spam-train.csv")
    assert main(["moderation", "spam-eval", "--train", data]) == 2
    assert "--eval" in capsys.readouterr().err
    assert main(["moderation", "spam-eval", data, "--train", data, "--eval", data]) == 2
    assert main(["moderation", "spam-eval"]) == 2
