"""Traditional → simplified: the shortcut for simplified text gives what OpenCC gives."""

import csv

import opencc
from hypothesis import given
from hypothesis import strategies as st

from bot.t2s import char_table, to_simplified

OPENCC = opencc.OpenCC("t2s")


def test_traditional_text_is_converted_with_phrases():
    assert to_simplified("乾燥的頭髮怎麼護理") == "干燥的头发怎么护理"
    assert to_simplified("甚麼時候發貨？") == OPENCC.convert("甚麼時候發貨？")


def test_simplified_text_is_returned_as_it_is():
    text = "什么时候发货？优惠券在哪里领"
    assert to_simplified(text) is text


def test_every_converted_character_is_in_the_table():
    assert char_table()[ord("髮")] == "发"
    assert ord("发") not in char_table()


@given(st.text(alphabet=st.sampled_from("乾燥頭髮發貨怎麼甚么时候的一了瞭望著作后後面麵干幹什")))
def test_same_as_opencc_on_mixed_text(text):
    assert to_simplified(text) == OPENCC.convert(text)


def test_same_as_opencc_on_real_chat_lines(shared_data):
    """OPPO utterances (simplified) and tg-spam messages (many written in traditional)."""
    chat, spam = shared_data / "chat" / "oppo-utterances.txt", shared_data / "chat" / "tg-spam-train.csv"
    with spam.open(encoding="utf-8") as f:
        lines = [row["input"] for row in csv.DictReader(f) if row.get("input")]
    lines += chat.read_text(encoding="utf-8").splitlines()[:20000]
    assert sum(to_simplified(x) != x for x in lines) > 100  # traditional text is in there
    assert [to_simplified(x) for x in lines] == [OPENCC.convert(x) for x in lines]
