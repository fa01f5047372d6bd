"""docs/config.md and docs/config.example.toml are generated from the settings and kept current."""

from __future__ import annotations

import tomllib

from bot.config import settings_from_dict
from bot.config_reference import EXAMPLE, REFERENCE, example_toml, reference_markdown, tables


def test_reference_and_example_are_current():
    # run `python -m bot.config_reference` after changing a settings dataclass
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), "docs/config.md is stale"
    assert EXAMPLE.read_text(encoding="utf-8") == example_toml(), "docs/config.example.toml is stale"


def test_reference_lists_nested_keys_with_type_and_default():
    found = {(t.path, k.name): k for t in tables() for k in t.keys}
    assert found[("adapters.onebot", "action_timeout")].type == "duration"
    assert found[("outbox", "reply_ttl")].default == '"10m"'
    assert found[("faq", "answer_threshold")].meaning.startswith("score >= answer_threshold")
    assert found[("adapters.wecom", "token")].secret


def test_uncommented_example_is_a_valid_config_equal_to_the_defaults():
    # every commented key of a plain table, uncommented, loads and changes nothing
    lines, table_is_array = [], False
    for line in example_toml().splitlines():
        if line.startswith("# [["):
            table_is_array = True
        elif line.startswith("# ["):
            table_is_array = False
            lines.append(line[2:])
        elif line.startswith("# ") and " = " in line and not line.startswith("#   ") and not table_is_array:
            lines.append(line[2:])
    data = tomllib.loads("\n".join(lines))
    defaults = settings_from_dict({})
    loaded = settings_from_dict(data)
    assert loaded == defaults


def test_every_key_says_what_it_means():
    # a new settings field needs a comment above it: that comment is its line in docs/config.md
    missing = [f"{t.path}.{k.name}" for t in tables() for k in t.keys if not k.meaning]
    assert missing == []
