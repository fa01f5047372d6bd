"""WXBizMsgCrypt for WeCom and 公众号, on top of wechatpy's crypto classes.

`WxCrypto` verifies signatures and decrypts callbacks with wechatpy's `WeChatCrypto`
(enterprise or 公众号 flavour, which also checks the receive id: corp id or app id), and
encrypts replies with wechatpy's `PrpCrypto`; the random prefix can be given, so a reply's
encryption is reproducible in tests against the published vectors.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Literal

from aiohttp import web
from wechatpy.crypto import PrpCrypto as MpPrpCrypto
from wechatpy.crypto import WeChatCrypto as MpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WecomPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bot.adapters.callback_guard import (
    ERR_MALFORMED,
    ERR_RECEIVE_ID,
    ERR_SIGNATURE,
    refuse,
    same_secret,
)

__all__ = [
    "BadCiphertext", "InvalidReceiveId", "InvalidSignatureException", "WxCrypto", "open_envelope",
    "plain_signature", "signature_ok",
]

InvalidReceiveId = (InvalidCorpIdException, InvalidAppIdException)

REPLY_XML = (
    "<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
)
_ALPHABET = string.ascii_letters + string.digits


class BadCiphertext(ValueError):
    """The Encrypt field is not valid base64 / AES-CBC / PKCS#7 data."""


def plain_signature(*parts: str) -> str:
    """SHA1 of the sorted concatenation: the signature of every WeChat callback."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_ok(expected: str, *parts: str) -> bool:
    """Constant-time check of a plaintext-mode signature (公众号 `signature` parameter)."""
    return same_secret(expected.lower(), plain_signature(*parts))


class WxCrypto:
    """Message crypto for one WeCom app (receive id = corp id) or 公众号 (receive id = app id)."""

    def __init__(self, kind: Literal["wecom", "mp"], token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.kind = kind
        self.token = token
        self.receive_id = receive_id
        cls = WecomCrypto if kind == "wecom" else MpCrypto
        self._crypto = cls(token, encoding_aes_key, receive_id)
        self._prp = WecomPrpCrypto if kind == "wecom" else MpPrpCrypto

    def __repr__(self) -> str:  # never show the token or key
        return f"WxCrypto({self.kind!r}, receive_id={self.receive_id!r})"

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """WeCom URL verification: check the signature, return the decrypted echostr."""
        return self._guard(self._crypto._check_signature, msg_signature, timestamp, nonce, echostr, self._prp)

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Check the signature over the Encrypt field, decrypt it, check the receive id."""
        return self._guard(self._crypto.decrypt_message, {"Encrypt": encrypt}, msg_signature, timestamp, nonce)

    @staticmethod
    def _guard(fn, *args) -> str:
        try:
            return fn(*args)
        except (InvalidSignatureException, *InvalidReceiveId):
            raise
        except Exception as exc:  # wechatpy lets base64 / AES / struct / UTF-8 errors through
            raise BadCiphertext(type(exc).__name__) from None

    def encrypt(self, plaintext: str, random_prefix: str | None = None) -> str:
        """The base64 Encrypt field; `random_prefix` (16 characters) only for reproducible tests."""
        prp = self._prp(self._crypto.key)
        prefix = random_prefix or "".join(secrets.choice(_ALPHABET) for _ in range(16))
        prp.get_random_string = lambda: prefix
        return prp.encrypt(plaintext, self.receive_id).decode()

    def encrypt_reply(self, plaintext: str, nonce: str, timestamp: str, random_prefix: str | None = None) -> str:
        """The whole encrypted reply document: Encrypt, MsgSignature, TimeStamp, Nonce."""
        encrypt = self.encrypt(plaintext, random_prefix)
        signature = plain_signature(self.token, timestamp, nonce, encrypt)
        return REPLY_XML.format(encrypt=encrypt, signature=signature, timestamp=timestamp, nonce=nonce)


def open_envelope(
    adapter: str, request: web.Request, crypto: WxCrypto, encrypt: str, msg_signature: str,
    timestamp: str, nonce: str,
) -> str:
    """Decrypt a callback's Encrypt field or raise the HTTP refusal: 401 bad signature,
    403 wrong corp id / app id inside the message, 400 undecryptable."""
    try:
        return crypto.decrypt(encrypt, msg_signature, timestamp, nonce)
    except InvalidSignatureException:
        raise refuse(adapter, request, 401, ERR_SIGNATURE) from None
    except InvalidReceiveId:
        raise refuse(adapter, request, 403, ERR_RECEIVE_ID) from None
    except BadCiphertext as exc:
        raise refuse(adapter, request, 400, ERR_MALFORMED, detail=str(exc)) from None
