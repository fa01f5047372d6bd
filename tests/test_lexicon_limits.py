"""The lexicon's word cap (like keyword rules) and its paged word list."""

from __future__ import annotations

import re

import pytest

from bot.cli import main
from bot.web.app import create_app
from bot.web.keys import STORE
from tests.conftest import login, make_settings


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(make_settings(tmp_path)))


async def test_console_refuses_a_word_longer_than_200_characters(client):
    csrf = await login(client, "mod", "moderator")
    resp = await client.post("/moderation/lexicon/add", data={"csrf_token": csrf, "word": "长" * 5000,
                                                               "category": "广告"})
    assert "敏感词过长（5000 字，上限 200 字）" in await resp.text()
    assert not client.app[STORE].lexicon.list_words(q="长" * 10)
    # 200 is still fine, and the word's cell wraps instead of stretching the page
    resp = await client.post("/moderation/lexicon/add", data={"csrf_token": csrf, "word": "长" * 200,
                                                               "category": "广告"})
    body = await resp.text()
    assert '<td class="wrap-anywhere">' + "长" * 200 + "</td>" in body


def test_cli_import_names_the_line_of_a_too_long_word(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[bot]\ndata_dir = 'data'\n", encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("赌博\n网赌\n" + "长" * 201 + "\n", encoding="utf-8")
    assert main(["moderation", "import", str(words), "--config", str(config)]) == 1
    assert "第 3 行：词过长（201 字，上限 200）" in capsys.readouterr().err


async def test_lexicon_list_pages_by_100_keeping_the_filter(client):
    store = client.app[STORE]
    store.lexicon.add_words([{"word": f"测试词{i:03d}", "category": "广告"} for i in range(250)])
    await login(client, "mod", "moderator")
    first = await (await client.get("/moderation/lexicon?q=测试词")).text()
    assert first.count('name="id"') == 100 and "下一页" in first and "上一页" not in first
    assert "第 1 页" in first
    link = re.search(r'href="(\?page=2[^"]*)"', first)
    assert link and "q=%E6%B5%8B%E8%AF%95%E8%AF%8D" in link.group(1)
    last = await (await client.get("/moderation/lexicon" + link.group(1).replace("&amp;", "&").replace(
        "page=2", "page=3"))).text()
    assert last.count('name="id"') == 50 and "上一页" in last and "下一页" not in last
