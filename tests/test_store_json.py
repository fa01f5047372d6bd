"""What the store writes as JSON is what the json module would write (orjson is only faster)."""

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.kernel.events import ChatKind
from bot.store.base import dumps

REFERENCE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text() | st.integers(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_same_text_as_the_json_module(value):
    assert dumps(value) == REFERENCE.encode(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_read_back_the_same(number):
    assert json.loads(dumps({"elapsed_ms": number})) == {"elapsed_ms": number}


def test_values_json_cannot_hold_go_through_str_as_before():
    value = {"at": datetime(2026, 11, 23, 20, 0, tzinfo=UTC), "kind": ChatKind.GROUP, "id": 2**70, "中文": "群聊"}
    assert dumps(value) == REFERENCE.encode(value)
