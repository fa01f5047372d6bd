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
    verdict = m.check_text("兼职刷单日赚三百")
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
    train_rows, held = split(read_labelled(shared_data / "chat" / "tg-spam-train.csv"))
    assert not {t for t, _ in train_rows} & {t for t, _ in held}
    m = Moderator(ModerationSettings())
    norm = m.normalizer
    model = SpamModel.fit([(norm(t).compact, y) for t, y in train_rows])
    from moderation.spam import evaluate

    quality = evaluate(model, [(norm(t).compact, y) for t, y in held], 0.999)
    assert quality["precision"] > 0.9 and quality["recall"] > 0.8
