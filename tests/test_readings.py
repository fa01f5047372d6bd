"""The shipped pinyin table is pypinyin's first reading of each character, tones removed."""

import re
import tomllib
from importlib.metadata import version

from bot.readings import PATH, from_pypinyin, readings, write
from intents.normalize import sound
from tests.conftest import ROOT


def pinned_pypinyin() -> str:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"][
        "dev"
    ]
    return next(d.split("==")[1] for d in dev if d.startswith("pypinyin=="))


def test_shipped_table_matches_the_pinned_pypinyin():
    # pyproject pins the dev dependency to the release the table was generated from
    assert version("pypinyin") == pinned_pypinyin()
    assert readings() == from_pypinyin()


def test_shipped_table_gives_one_plain_syllable_to_common_characters():
    table = readings()
    common = [chr(c) for c in range(0x4E00, 0x9FA6)]
    assert sum(ch in table for ch in common) / len(common) > 0.999
    assert all(re.fullmatch("[a-z]+", s) for s in table.values())
    assert [table[ch] for ch in "女绿旅"] == ["nu", "lu", "lu"]  # ü written as u


def test_regenerated_file_reads_back_the_same(tmp_path):
    path = tmp_path / "readings.txt"
    count = write(path)
    assert count == len(readings())
    assert path.read_text(encoding="utf-8") == PATH.read_text(encoding="utf-8")


def test_homophones_share_a_sound_and_other_words_do_not():
    assert readings()["微"] == readings()["威"] == "wei"
    assert sound("什么时侯") == sound("什么时候")
    assert sound("发货") != sound("发票")
