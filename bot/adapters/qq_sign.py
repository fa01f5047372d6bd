"""Ed25519 signatures of the QQ bot platform's webhook (QQ 机器人开放平台).

The platform derives one Ed25519 key pair from the bot's secret: the secret repeated until it
is at least 32 bytes long, cut to 32 bytes, is the private key's seed. Every event (op 0)
carries `X-Signature-Ed25519` (hex) over `X-Signature-Timestamp + body`, checked with the
public key; the callback-URL validation (op 13) is answered with our own signature over
`event_ts + plain_token`, made with the private key.
Docs: https://bot.q.qq.com/wiki/develop/api-v2/dev-prepare/interface-framework/sign.html
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEED_SIZE = 32
SIGNATURE_SIZE = 64


def seed_of(secret: str) -> bytes:
    """The secret repeated to at least 32 bytes and cut to 32, as the platform's Go sample does
    (`strings.Repeat(seed, 2)` until long enough); an empty secret has no seed."""
    seed = secret.encode("utf-8")
    if not seed:
        raise ValueError("empty bot secret")
    while len(seed) < SEED_SIZE:
        seed *= 2
    return seed[:SEED_SIZE]


class QqSigner:
    """The key pair of one bot: signs validation answers, verifies event signatures."""

    def __init__(self, secret: str) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed_of(secret))
        self._public: Ed25519PublicKey = self._private.public_key()

    def __repr__(self) -> str:
        return "QqSigner(<secret>)"

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()

    def answer_validation(self, plain_token: str, event_ts: str) -> dict[str, str]:
        """The op 13 answer: the plain token back, signed over event_ts + plain_token."""
        return {"plain_token": plain_token, "signature": self.sign((event_ts + plain_token).encode("utf-8"))}

    def verify(self, signature_hex: str, timestamp: str, body: bytes) -> bool:
        """True when `signature_hex` is our public key's signature of timestamp + body. Malformed
        hex, a wrong length or the top bits of the last byte set (as the platform's sample checks)
        count as a bad signature, never as an error."""
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            return False
        if len(signature) != SIGNATURE_SIZE or signature[63] & 224:
            return False
        try:
            self._public.verify(signature, timestamp.encode("utf-8") + body)
        except InvalidSignature:
            return False
        return True
