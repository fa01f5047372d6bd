"""The shipped pinyin table is pypinyin's first reading of each character, tones removed."""

from bot.readings import PATH, from_pypinyin, readings, write
from intents.normalize import sound


def test_shipped_table_matches_installed_pypinyin():
    assert readings() == from_pypinyin()


def test_regenerated_file_reads_back_the_same(tmp_path):
    path = tmp_path / "readings.txt"
    count = write(path)
    assert count == len(readings())
    assert path.read_text(encoding="utf-8") == PATH.read_text(encoding="utf-8")


def test_homophones_share_a_sound_and_other_words_do_not():
    assert readings()["微"] == readings()["威"] == "wei"
    assert sound("什么时侯") == sound("什么时候")
    assert sound("发货") != sound("发票")
