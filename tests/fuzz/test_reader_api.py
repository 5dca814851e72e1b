"""The reader API fuzzed: hostile JSON bodies and signature headers, anonymous and signed with a paired device's
key. Never a 5xx; a refused post stores no read; a signed post with malformed card data is told what is wrong;
a read that is stored is one the identity step can take (ASVS 5.0 V2.2, V4.1 web service input)."""
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from blueprints.reader import services
from blueprints.reader.models import CardRead
from core.extensions import db
from tests.fuzz import harness
from tests.fuzz.harness import EXAMPLES, FUZZ_SETTINGS

# One endpoint, cheap posts: more examples than a form gets.
READER_SETTINGS = settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 5)
from tests.fuzz.world import World
from tests.reader.support import CARD

URL = "/api/reader/reads"
CARD_KEYS = tuple(CARD)
# What HTTP headers can carry (latin-1 without line breaks, which the client refuses to send anyway).
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
TIMESTAMPS = st.one_of(
    HEADER_TEXT,
    st.integers(min_value=-10**25, max_value=10**25).map(str),
    st.sampled_from(["", "0", "-1", "１７６４８０００００", "1e9", " 1764800000", "99999999999999999999", "nan"]),
)
CARD_VALUES = st.one_of(st.none(), harness.HOSTILE, st.integers(), st.floats(), st.booleans(),
                        st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))


@st.composite
def card_fields(draw):
    """The card's fields: the real read's, some replaced by anything JSON can hold, some dropped or added."""
    fields = dict(CARD)
    for key in draw(st.sets(st.sampled_from(CARD_KEYS), max_size=4)):
        fields[key] = draw(CARD_VALUES)
    for key in draw(st.sets(st.sampled_from(CARD_KEYS), max_size=2)):
        fields.pop(key, None)
    for key, value in draw(st.dictionaries(harness.TEXT, CARD_VALUES, max_size=2)).items():
        fields[key] = value
    return fields


@st.composite
def bodies(draw, device_id: str):
    """A post body: the agent's shape with hostile parts, or any JSON, or bytes that are not JSON."""
    shape = draw(st.sampled_from(["agent", "agent", "agent", "json", "bytes"]))
    if shape == "bytes":
        return draw(harness.RAW_BODIES)
    if shape == "json":
        return json.dumps(draw(harness.JSON)).encode()
    fields = draw(card_fields()) if draw(st.integers(0, 4)) else draw(CARD_VALUES)
    photo = draw(st.sampled_from(["V0xUZmFrZQ==", None, "A" * 1368, "A" * 70000, "other"]))
    document = {"device_id": draw(st.sampled_from([device_id, "", "RD-0000"])), "fields": fields,
                "photo_raw": draw(CARD_VALUES) if photo == "other" else photo}
    for key in draw(st.sets(st.sampled_from(sorted(document)), max_size=1)):
        del document[key]
    return json.dumps(document, allow_nan=draw(st.booleans())).encode() if draw(st.booleans()) else \
        json.dumps(document).encode()


def _reads(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CardRead))


@pytest.fixture
def reader(app, monkeypatch):
    # The per-source limit on refused posts (tests/reader covers it) would answer the later examples 429
    # unheard: raised here so that every example reaches the API's own checks.
    monkeypatch.setitem(app.config, "READER_REFUSALS_PER_MINUTE", 1_000_000)
    world = World(app)
    world.terminal_paired  # the clerk's browser is paired with it, so reads land on a terminal
    return world.reader


def _check(app, response, reads_before: int, signed: bool):
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if response.status_code >= 400:
        assert _reads(app) == reads_before, "a refused post stored a read"
        return
    assert response.status_code == 201
    with app.app_context():
        read = db.session.get(CardRead, response.get_json()["id"])
        # What was stored is what the identity step fills its form from: it must take it as it is.
        values = services.identity_values(read)
        assert all(isinstance(value, (str, bool)) for value in values.values()), values
        assert read.photo_raw is None or isinstance(read.photo_raw, str)
    assert signed


@READER_SETTINGS
@given(data=st.data())
def test_anonymous_posts_with_any_headers_and_body_are_refused_and_store_nothing(app, reader, data):
    client = app.test_client()
    body = data.draw(st.one_of(bodies(reader.device_id), harness.RAW_BODIES), label="body")
    headers = {name: data.draw(values, label=name) for name, values in (
        ("X-Reader-Device", st.one_of(st.just(reader.device_id), HEADER_TEXT)),
        ("X-Reader-Timestamp", st.one_of(st.just(str(int(time.time()))), TIMESTAMPS)),
        ("X-Reader-Signature", st.one_of(HEADER_TEXT, st.text("0123456789abcdefABCDEF", min_size=64, max_size=64))),
    ) if data.draw(st.booleans(), label=f"send {name}")}
    content_type = data.draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", None]))
    before = _reads(app)
    response = client.post(URL, data=body, headers=headers, content_type=content_type)
    _check(app, response, before, signed=False)
    assert response.status_code == 401


@READER_SETTINGS
@given(data=st.data())
def test_signed_posts_with_hostile_card_data_never_fail_and_are_stored_only_whole(app, reader, data):
    client = app.test_client()
    body = data.draw(bodies(reader.device_id), label="body")
    timestamp = str(int(time.time()))
    signature = services.signature_for(reader.secret, timestamp, body)
    if data.draw(st.booleans(), label="uppercase signature"):
        signature = signature.upper()
    before = _reads(app)
    response = client.post(URL, data=body, content_type="application/json", headers={
        "X-Reader-Device": reader.device_id, "X-Reader-Timestamp": timestamp, "X-Reader-Signature": signature})
    _check(app, response, before, signed=True)
    if response.status_code >= 400 and response.status_code != 401:
        # Signed, so the agent is told what is wrong with what it sent (401 is a replay of an identical body).
        assert response.get_json().get("message"), response.get_json()


@READER_SETTINGS
@given(data=st.data())
def test_signed_posts_with_hostile_headers_are_refused_unless_every_part_is_right(app, reader, data):
    client = app.test_client()
    body = json.dumps({"device_id": reader.device_id, "fields": CARD, "photo_raw": "V0xUZmFrZQ==",
                       "n": data.draw(st.integers(), label="nonce")}).encode()
    good_time = str(int(time.time()))
    timestamp = data.draw(st.one_of(st.just(good_time), TIMESTAMPS), label="timestamp")
    try:
        signature = services.signature_for(reader.secret, timestamp, body)
    except ValueError:  # the agent signs unix seconds only
        signature = "0" * 64
    signature = data.draw(st.one_of(st.just(signature), HEADER_TEXT, st.just(signature[:-1]), st.just(signature + "0")),
                          label="signature")
    device = data.draw(st.one_of(st.just(reader.device_id), HEADER_TEXT), label="device")
    before = _reads(app)
    response = client.post(URL, data=body, content_type="application/json", headers={
        "X-Reader-Device": device, "X-Reader-Timestamp": timestamp, "X-Reader-Signature": signature})
    _check(app, response, before, signed=True)
    if response.status_code == 201:
        assert device == reader.device_id and signature.lower() == services.signature_for(
            reader.secret, timestamp, body) and abs(int(timestamp) - int(good_time)) <= 60

