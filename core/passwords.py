"""Password rules for staff (ASVS 5.0 V6.2): length, the commonest passwords, the username, repetition.

Pure: no Flask, no database. `problems(password, username)` returns the Chinese messages to show next
to the field, empty when the password may be used.

common_passwords.txt is reproducible: the entries of 8–64 characters, in their order, of the list of
common passwords that Django ships (django/contrib/auth/common-passwords.txt.gz, BSD licence, itself
compiled by Royce Williams from breach corpora). Shorter entries are refused by the length rule anyway.
(counted in characters, not bytes: a few Cyrillic entries are shorter than they look).
"""
import os
import unicodedata
from functools import lru_cache

MIN_LENGTH = 8
MAX_LENGTH = 64
COMMON_PASSWORDS_FILE = os.path.join(os.path.dirname(__file__), "common_passwords.txt")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The refused common passwords, lower-cased."""
    with open(COMMON_PASSWORDS_FILE, encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def _normal(text: str) -> str:
    # Full-width letters and digits (typed with a Chinese input method) count as their ASCII forms.
    return unicodedata.normalize("NFKC", text).lower()


def _length(password: str) -> int:
    # Characters as the person sees them, not bytes: a Chinese character is one.
    return len(unicodedata.normalize("NFC", password))


def _trivially_repeated(password: str) -> bool:
    """One character, or one short group, repeated to fill the length ("aaaaaaaa", "abababab", "123123123")."""
    text = _normal(password)
    for size in range(1, 4):
        unit = text[:size]
        if len(text) >= size * 2 and len(text) % size == 0 and unit * (len(text) // size) == text:
            return True
    return False


def _sequence(password: str) -> bool:
    """A straight run of the alphabet or digits, up or down ("12345678", "abcdefgh", "87654321")."""
    text = _normal(password)
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    return len(steps) == 1 and steps.pop() in (1, -1)


def problems(password: str, username: str | None = None) -> list[str]:
    """Why `password` may not be used, in Chinese; empty when it may (spaces count, nothing is trimmed)."""
    password = password or ""
    length = _length(password)
    if length < MIN_LENGTH:
        return [f"密码至少{MIN_LENGTH}个字符"]
    if length > MAX_LENGTH:
        return [f"密码不超过{MAX_LENGTH}个字符"]
    found = []
    normal = _normal(password)
    if username and _normal(username.strip()) and _normal(username.strip()) in normal:
        found.append("密码不能包含用户名")
    if normal in common_passwords() or normal.strip() in common_passwords():
        found.append("该密码过于常见，容易被猜中，请换一个")
    elif _trivially_repeated(password) or _sequence(password):
        found.append("密码不能是重复或连续的字符")
    return found


def acceptable(password: str, username: str | None = None) -> bool:
    return not problems(password, username)
