"""Field encryption at rest for personal data (C2) and blind indexes to look it up.

The keys live on the app (`app.extensions["keyring"]`, built by `create_app` from DATA_KEY), never in a
module global: two apps in one process (tests, a rotation) each use their own.

- DATA_KEY encrypts. During a key rotation DATA_KEY_PREVIOUS (one or more, comma-separated) still
  reads what the old key wrote, until `flask --app app keys rotate` has re-encrypted every value.
- The blind indexes (equal-value lookups of ID numbers, mobiles, bank cards) use a key of their own,
  derived from INDEX_KEY when set, else from DATA_KEY. An index cannot be re-encrypted, only rebuilt
  from every plaintext, so a rotation keeps the index key: set INDEX_KEY to the first DATA_KEY before
  rotating (the app refuses to start with a previous key and no INDEX_KEY).
"""
import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class Keyring:
    """The keys derived from one data key (and any previous ones that still read)."""

    def __init__(self, data_key: str, previous: tuple[str, ...] = (), index_key: str | None = None):
        self._masters = [key.encode() for key in (data_key, *previous)]
        self._fernets = [Fernet(base64.urlsafe_b64encode(hmac.digest(m, b"kyc-field-encryption", "sha256")))
                         for m in self._masters]
        self._current = self._fernets[0]
        self._readers = MultiFernet(self._fernets)
        self._index = hmac.digest((index_key or data_key).encode(), b"kyc-blind-index", "sha256")
        # From the same key as the blind index: it outlives a data key's rotation, as the audit chain must.
        self.audit_chain_key = hmac.digest((index_key or data_key).encode(), b"kyc-audit-chain", "sha256")

    @property
    def key_ids(self) -> list[str]:
        """Short public ids of the keys, current first: what a file header names."""
        return [hmac.digest(m, b"kyc-key-id", "sha256").hex()[:16] for m in self._masters]

    def derived_key(self, purpose: bytes, key_id: str | None = None) -> bytes:
        """A 32-byte key for one purpose from the current data key, or from the one `key_id` names."""
        master = self._masters[0] if key_id is None else self._masters[self.key_ids.index(key_id)]
        return hmac.digest(master, purpose, "sha256")

    def derived_keys(self, purpose: bytes) -> list[bytes]:
        """The key for one purpose from every data key that still reads, the current one first."""
        return [hmac.digest(m, purpose, "sha256") for m in self._masters]

    def encrypt(self, plaintext: str) -> str:
        return self._current.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._readers.decrypt(token.encode()).decode()
        except InvalidToken:
            raise RuntimeError("stored value cannot be decrypted with the configured DATA_KEY") from None

    def is_current(self, token: str) -> bool:
        """Whether the current key wrote `token` (a rotation leaves such values alone)."""
        try:
            self._current.decrypt(token.encode())
            return True
        except InvalidToken:
            return False

    def blind_index(self, value: str | None) -> str | None:
        if not value:
            return None
        return hmac.new(self._index, value.strip().upper().encode(), hashlib.sha256).hexdigest()


def keyring() -> Keyring:
    try:
        return current_app.extensions["keyring"]
    except KeyError:
        raise RuntimeError("the app has no keyring: create it with create_app()") from None


def derived_key(purpose: bytes, key_id: str | None = None) -> bytes:
    return keyring().derived_key(purpose, key_id)


def encrypt(plaintext: str) -> str:
    return keyring().encrypt(plaintext)


def decrypt(token: str) -> str:
    return keyring().decrypt(token)


def blind_index(value: str | None) -> str | None:
    """Return a keyed hash that finds equal values without storing them in the clear."""
    return keyring().blind_index(value)


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
