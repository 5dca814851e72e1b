"""Agent → server over loopback: signed posts accepted; bad, stale, replayed or unpaired ones refused."""

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from reader_agent.agent import Poster, PostError, build_payload
from reader_agent.decode import decode_text_block
from reader_agent.signing import sign
from reader_agent.transports import CardRead
from tests.reader_agent.conftest import DEVICE_ID, DEVICE_SECRET
from tests.reader_agent.fixtures import PHOTO, resident_block

READ = CardRead(text=resident_block(), photo=PHOTO, chip_serial="0123456789ABCDEF")


def payload(device_id=DEVICE_ID):
    fields = decode_text_block(READ.text)
    return build_payload(device_id, READ, fields, datetime(2025, 6, 15, 9, 30, tzinfo=timezone.utc))


def test_signed_read_is_accepted_and_attributed_to_the_devices_branch(reads_server):
    poster = Poster(reads_server.url, DEVICE_ID, DEVICE_SECRET)

    answer = poster.post(payload())

    assert answer == {"id": 1}
    [accepted] = reads_server.accepted
    assert accepted["branch"] == "北京分公司"
    assert accepted["payload"] == json.loads(json.dumps(payload()))
    assert accepted["payload"]["fields"]["name"] == "王小明"
    assert reads_server.refused == []


@pytest.mark.parametrize(
    ("device_id", "secret", "clock_offset", "reason"),
    [
        (DEVICE_ID, "not-the-secret", 0, "bad signature"),
        (DEVICE_ID, DEVICE_SECRET, -120, "stale timestamp"),
        (DEVICE_ID, DEVICE_SECRET, +120, "stale timestamp"),
        ("reader-unknown", DEVICE_SECRET, 0, "unknown device"),
        ("reader-sh-009", "revoked-secret", 0, "revoked device"),
    ],
    ids=["bad-signature", "stale", "from-the-future", "unknown-device", "revoked-device"],
)
def test_post_that_fails_authentication_is_refused_with_401_and_logged(
    reads_server, caplog, device_id, secret, clock_offset, reason
):
    poster = Poster(reads_server.url, device_id, secret, clock=lambda: time.time() + clock_offset)

    with caplog.at_level(logging.WARNING, logger="tests.reads_server"), pytest.raises(PostError) as refused:
        poster.post(payload(device_id))

    assert (refused.value.status, refused.value.retryable) == (401, False)
    assert reads_server.accepted == []
    assert reads_server.refused == [(device_id, reason)]
    assert f"refused reader post from {device_id}: {reason}" in caplog.text


def _signed_request(url, body, *, timestamp=None, signature=None):
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    return urllib.request.Request(
        url + "/api/reader/reads",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Reader-Device": DEVICE_ID,
            "X-Reader-Timestamp": timestamp,
            "X-Reader-Signature": signature or sign(DEVICE_SECRET, timestamp, body),
        },
    )


def _status(request):
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_replayed_post_is_refused(reads_server):
    body = json.dumps(payload()).encode()
    timestamp = str(int(time.time()))

    first = _status(_signed_request(reads_server.url, body, timestamp=timestamp))
    replay = _status(_signed_request(reads_server.url, body, timestamp=timestamp))

    assert (first, replay) == (201, 401)
    assert len(reads_server.accepted) == 1
    assert reads_server.refused == [(DEVICE_ID, "replayed signature")]


def test_body_changed_after_signing_is_refused(reads_server):
    body = json.dumps(payload(), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    signature = sign(DEVICE_SECRET, timestamp, body)
    tampered = body.replace("王小明".encode(), "李四".encode())

    status = _status(_signed_request(reads_server.url, tampered, timestamp=timestamp, signature=signature))

    assert status == 401
    assert reads_server.refused == [(DEVICE_ID, "bad signature")]


def test_two_reads_of_the_same_card_in_one_second_are_both_accepted(reads_server):
    poster = Poster(reads_server.url, DEVICE_ID, DEVICE_SECRET, clock=lambda: 1_750_000_000 + 0.0)
    reads_server.now = lambda: 1_750_000_000
    fields = decode_text_block(READ.text)
    first = build_payload(DEVICE_ID, READ, fields, datetime(2025, 6, 15, 9, 30, 0, 1000, tzinfo=timezone.utc))
    second = build_payload(DEVICE_ID, READ, fields, datetime(2025, 6, 15, 9, 30, 0, 2000, tzinfo=timezone.utc))

    poster.post(first)
    poster.post(second)

    assert len(reads_server.accepted) == 2


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_a_retryable_post_error():
    poster = Poster(f"http://127.0.0.1:{_closed_port()}", DEVICE_ID, DEVICE_SECRET, timeout=2)

    with pytest.raises(PostError) as failed:
        poster.post(payload())

    assert failed.value.retryable
    assert failed.value.status is None


def test_server_error_is_retryable(reads_server):
    reads_server.handle = lambda path, headers, body: (503, {"error": "maintenance"})

    with pytest.raises(PostError) as failed:
        Poster(reads_server.url, DEVICE_ID, DEVICE_SECRET).post(payload())

    assert (failed.value.status, failed.value.retryable) == (503, True)


@pytest.mark.parametrize(
    ("server", "options"),
    [
        ("http://kyc.example.com", {}),
        ("http://10.1.2.3:8000", {}),
        ("ftp://kyc.example.com", {}),
        ("kyc.example.com", {}),
        ("https://kyc.example.com", {"secret": ""}),
        ("https://kyc.example.com", {"device_id": ""}),
    ],
)
def test_poster_refuses_unsafe_or_incomplete_settings(server, options):
    arguments = {"device_id": DEVICE_ID, "secret": DEVICE_SECRET, **options}

    with pytest.raises(ValueError):
        Poster(server, arguments["device_id"], arguments["secret"])


@pytest.mark.parametrize(
    ("server", "options", "url"),
    [
        ("https://kyc.example.com/", {}, "https://kyc.example.com/api/reader/reads"),
        ("http://localhost:5000", {}, "http://localhost:5000/api/reader/reads"),
        ("http://[::1]:5000", {}, "http://[::1]:5000/api/reader/reads"),
        ("http://10.1.2.3:8000", {"allow_insecure_http": True}, "http://10.1.2.3:8000/api/reader/reads"),
    ],
)
def test_poster_posts_to_the_reads_endpoint(server, options, url):
    assert Poster(server, DEVICE_ID, DEVICE_SECRET, **options).url == url
