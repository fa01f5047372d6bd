"""WeChat crypto against the published vectors, safe XML parsing, and text splitting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from bot.adapters.callback_guard import MalformedXml, UnsafeXml, parse_xml
from bot.adapters.wecom_api import split_text
from bot.adapters.wxcrypto import (
    InvalidReceiveId,
    InvalidSignatureException,
    WxCrypto,
    plain_signature,
)

FIXTURES = Path(__file__).parent / "fixtures"
VECTORS = json.loads((FIXTURES / "wechat" / "vectors.json").read_text(encoding="utf-8"))


def _crypto(v: dict, receive_id: str | None = None) -> WxCrypto:
    kind: Literal["wecom", "mp"] = "mp" if v["name"].startswith("mp-") else "wecom"
    return WxCrypto(kind, v["token"], v["encoding_aes_key"], receive_id or v["receive_id"])


def _id(v: dict) -> str:
    return v["name"]


def test_six_vectors_are_present():
    assert len(VECTORS) == 6
    assert {v["name"].split("-")[0] for v in VECTORS} == {"wechatpy", "wecom", "mp"}


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_vector_signature_matches(v):
    assert plain_signature(v["token"], v["timestamp"], v["nonce"], v["encrypt"]) == v["msg_signature"]


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_vector_decrypts_to_plaintext(v):
    crypto = _crypto(v)
    if v["kind"] == "url-verification":
        out = crypto.verify_url(v["msg_signature"], v["timestamp"], v["nonce"], v["encrypt"])
    else:
        out = crypto.decrypt(v["encrypt"], v["msg_signature"], v["timestamp"], v["nonce"])
    assert out == v["plaintext"]


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_vector_rejects_tampered_signature(v):
    bad = ("0" if v["msg_signature"][0] != "0" else "1") + v["msg_signature"][1:]
    with pytest.raises(InvalidSignatureException):
        _crypto(v).decrypt(v["encrypt"], bad, v["timestamp"], v["nonce"])


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_vector_rejects_wrong_receive_id(v):
    with pytest.raises(InvalidReceiveId):
        _crypto(v, receive_id="ww0000000000000000").decrypt(
            v["encrypt"], v["msg_signature"], v["timestamp"], v["nonce"])


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_vector_encryption_is_reproducible_with_its_random_prefix(v):
    crypto = _crypto(v)
    assert crypto.encrypt(v["plaintext"], v["random_prefix"]) == v["encrypt"]


def test_encrypted_reply_document_matches_wechatpy_vector():
    v = next(v for v in VECTORS if v["name"] == "wechatpy-work-reply")
    doc = parse_xml(_crypto(v).encrypt_reply(v["plaintext"], v["nonce"], v["timestamp"], v["random_prefix"]))
    assert doc == {"Encrypt": v["encrypt"], "MsgSignature": v["msg_signature"],
                   "TimeStamp": v["timestamp"], "Nonce": v["nonce"]}


def test_random_encryption_round_trips_and_differs_each_time():
    v = VECTORS[1]
    crypto = _crypto(v)
    a, b = crypto.encrypt("你好"), crypto.encrypt("你好")
    assert a != b
    sig = plain_signature(v["token"], "1", "2", a)
    assert crypto.decrypt(a, sig, "1", "2") == "你好"


def test_crypto_repr_hides_token_and_key():
    v = VECTORS[0]
    assert v["token"] not in repr(_crypto(v)) and v["encoding_aes_key"] not in repr(_crypto(v))


# -- XML --------------------------------------------------------------------------------

def test_parse_xml_reads_cdata_nested_and_repeated_elements():
    doc = parse_xml((FIXTURES / "wecom" / "change_external_chat.xml").read_bytes())
    assert doc["ChangeType"] == "update"
    assert doc["MemChangeList"]["Item"] == ["wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "wmOgQhDgAAuXFJGwbve4g4iXknfOBBBB"]


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    "<xml><Content>&b;</Content></xml>"
)
XXE = '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, BILLION_LAUGHS.lower(), XXE.replace("DOCTYPE", "doctype")])
def test_xml_with_entities_is_refused_before_expansion(doc):
    with pytest.raises(UnsafeXml):
        parse_xml(doc)


def test_doctype_hidden_after_a_long_prefix_is_still_refused():
    doc = "<?xml version='1.0'?>" + "<!-- pad -->" * 1000 + '<!DOCTYPE xml [<!ENTITY x "y">]><xml><a>&x;</a></xml>'
    with pytest.raises(UnsafeXml):
        parse_xml(doc)


def test_undefined_entity_is_malformed_not_expanded():
    with pytest.raises(MalformedXml):
        parse_xml("<xml><Content>&x;</Content></xml>")


@pytest.mark.parametrize("doc", ["", "<xml><a>1</xml>", "not xml", "<other><a>1</a></other>", "<xml>text</xml>"])
def test_malformed_xml_is_refused(doc):
    with pytest.raises(MalformedXml):
        parse_xml(doc)


# -- splitting --------------------------------------------------------------------------

def test_short_text_is_not_split():
    assert split_text("你好。") == ["你好。"]


def test_long_text_splits_at_sentence_ends_within_2048_bytes():
    sentence = "今晚八点秒杀开始，限量一百份。"  # 45 bytes
    text = sentence * 100
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_sentence_longer_than_limit_splits_at_commas_then_characters():
    text = ("很长的一句话，" * 200) + ("无标点" * 1000)
    parts = split_text(text, 300)
    assert all(len(p.encode()) <= 300 for p in parts)
    assert "".join(parts) == text
