"""Sign and verify reader posts: HMAC-SHA256 over "<timestamp>.<body>" with the device secret.

The agent sends X-Reader-Device, X-Reader-Timestamp (unix seconds) and
X-Reader-Signature (lower-case hex). The server looks up the device's
secret, calls verify(), and must also refuse a signature it has already
accepted within the skew window (replay): verify() cannot know that.
Standard library only, so the server may import this module as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_SKEW_SECONDS = 60

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"[0-9a-f]{64}", re.ASCII)


def _key(secret: str | bytes) -> bytes:
    # A secret given as text is used as its UTF-8 bytes, exactly as issued.
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """Return hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    timestamp = str(timestamp)
    # Only plain digits: "+12", " 12" or "1_2" would let two headers sign alike.
    if not _TIMESTAMP.fullmatch(timestamp):
        raise ValueError(f"timestamp must be unix seconds, got {timestamp!r}")
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: int | str,
    body: bytes,
    signature: str,
    now: float,
    max_skew: int = MAX_SKEW_SECONDS,
) -> bool:
    """True if the signature matches and the timestamp is within max_skew seconds of now."""
    timestamp = str(timestamp)
    if not _TIMESTAMP.fullmatch(timestamp) or not isinstance(signature, str):
        return False
    if abs(now - int(timestamp)) > max_skew:
        return False
    if not _SIGNATURE.fullmatch(signature):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
