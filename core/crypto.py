"""Field encryption at rest for personal data (C2) and blind indexes to look it up."""
import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

_keys: dict[str, bytes] = {}


def configure(data_key: str) -> None:
    """Derive the encryption and index keys from the one configured data key."""
    master = data_key.encode()
    _keys["master"] = master
    _keys["enc"] = base64.urlsafe_b64encode(hmac.digest(master, b"kyc-field-encryption", "sha256"))
    _keys["idx"] = hmac.digest(master, b"kyc-blind-index", "sha256")


def derived_key(purpose: bytes) -> bytes:
    """A 32-byte key for one purpose (b"kyc-file-encryption", …), derived from the configured data key."""
    try:
        master = _keys["master"]
    except KeyError:
        raise RuntimeError("crypto.configure() was not called: no data key") from None
    return hmac.digest(master, purpose, "sha256")


def _fernet() -> Fernet:
    try:
        return Fernet(_keys["enc"])
    except KeyError:
        raise RuntimeError("crypto.configure() was not called: no data key") from None


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("stored value cannot be decrypted with the configured DATA_KEY") from None


def blind_index(value: str | None) -> str | None:
    """Return a keyed hash that finds equal values without storing them in the clear."""
    if not value:
        return None
    return hmac.new(_keys["idx"], value.strip().upper().encode(), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator):
    """A string column stored encrypted (Fernet, AES-128-CBC + HMAC)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator):
    """A JSON document stored encrypted; for step data that mixes C2 fields."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(decrypt(value))
