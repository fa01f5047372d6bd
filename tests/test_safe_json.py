"""Strict JSON for platform payloads: what is refused, and what must still be taken in."""

from __future__ import annotations

import json

import pytest

from bot.adapters.safe_json import MAX_DEPTH, MalformedJson, loads, loads_object, too_deep


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("text", [
    '{"time": NaN}', '{"time": Infinity}', '{"time": -Infinity}', '{"time": 1e400}', '[-1e999]',
    '{"a":' * 5000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 100_000, nested(MAX_DEPTH + 1),
    '{"x": ' + "9" * 5000 + "}", "", "nul", b"\xff\xfe\x00", '{"a": 1} trailing',
])
def test_refused(text):
    with pytest.raises(MalformedJson):
        loads(text)
    with pytest.raises(MalformedJson):
        loads(text.encode() if isinstance(text, str) else text)


@pytest.mark.parametrize(
    "text",
    [
        '{"time": 1700000000.25, "n": -0.0, "big": 1e300}',
        nested(MAX_DEPTH),
        # brackets inside strings do not count, escaped quotes and backslashes do not confuse it
        '{"text": "' + "[" * 500 + '"}',
        '{"text": "\\"' + "{" * 200 + '\\\\", "b": ' + nested(10) + "}",
        '{"raw": "[CQ:at,qq=1] [CQ:face,id=1]", "message": ['
        + ",".join(['{"type": "face", "data": {"id": "1"}}'] * 200)
        + "]}",
    ],
)
def test_taken_in_exactly_as_json_would(text):
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


def test_the_depth_check_counts_nesting_not_brackets():
    wide = "[" + ",".join([nested(3)] * 1000) + "]"
    assert not too_deep(wide) and too_deep("[" + nested(MAX_DEPTH) + "]")
    assert not too_deep('["' + "]" * 100 + '"]')


def test_an_object_is_required_where_an_event_is_expected():
    with pytest.raises(MalformedJson):
        loads_object("[1, 2]")
    assert loads_object(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a UTF-8 BOM, as json.loads allows
