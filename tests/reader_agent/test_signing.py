"""HMAC signing of reader posts."""

import hashlib
import hmac

import pytest

from reader_agent.signing import sign, verify

SECRET = "device-secret"
BODY = '{"device_id":"reader-bj-001","fields":{"name":"王小明"}}'.encode()
NOW = 1_750_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, NOW, BODY) == expected
    assert sign(SECRET.encode(), str(NOW), BODY) == expected


def test_matching_signature_within_the_window_verifies():
    assert verify(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), now=NOW + 30)


GOOD = sign(SECRET, NOW, BODY)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "signature", "now"),
    [
        ("other-secret", NOW, BODY, GOOD, NOW),
        (SECRET, NOW, BODY + b" ", GOOD, NOW),
        (SECRET, NOW + 1, BODY, GOOD, NOW),
        (SECRET, NOW, BODY, GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"), NOW),
        (SECRET, NOW, BODY, GOOD.upper(), NOW),
        (SECRET, NOW, BODY, GOOD[:32], NOW),
        (SECRET, NOW, BODY, "", NOW),
        (SECRET, NOW, BODY, None, NOW),
        (SECRET, NOW, BODY, "签名" * 32, NOW),
        (SECRET, NOW, BODY, GOOD, NOW + 61),
        (SECRET, NOW, BODY, GOOD, NOW - 61),
        (SECRET, f" {NOW}", BODY, GOOD, NOW),
        (SECRET, f"+{NOW}", BODY, GOOD, NOW),
        (SECRET, "", BODY, GOOD, NOW),
        (SECRET, "1.75e9", BODY, GOOD, NOW),
    ],
    ids=[
        "wrong-secret", "changed-body", "changed-timestamp", "changed-signature", "upper-case-hex",
        "truncated", "empty", "missing", "non-ascii", "61s-old", "61s-ahead", "space-in-timestamp",
        "plus-in-timestamp", "empty-timestamp", "float-timestamp",
    ],
)
def test_anything_but_an_exact_fresh_signature_fails(secret, timestamp, body, signature, now):
    assert verify(secret, timestamp, body, signature, now=now) is False


@pytest.mark.parametrize(("skew", "ok"), [(60, True), (-60, True), (10, True)])
def test_skew_up_to_the_limit_is_accepted(skew, ok):
    assert verify(SECRET, NOW, BODY, GOOD, now=NOW + skew) is ok


def test_skew_limit_can_be_tightened():
    assert not verify(SECRET, NOW, BODY, GOOD, now=NOW + 10, max_skew=5)


@pytest.mark.parametrize("timestamp", ["-1", "1.5", "", "12 ", "１２"])
def test_signing_refuses_timestamps_that_are_not_plain_digits(timestamp):
    with pytest.raises(ValueError):
        sign(SECRET, timestamp, BODY)
