"""The polling loop: read once until removed, poll no faster than 300 ms, retry posts sensibly."""

import base64
import logging
from datetime import datetime, timezone

import pytest

from reader_agent.agent import MIN_INTERVAL, Agent, PostError, build_payload, mask_id
from reader_agent.decode import decode_text_block
from reader_agent.transports import CardRead, SamUnavailable, TransportError
from tests.reader_agent.fixtures import PHOTO, foreign_block, hmt_block, resident_block

RESIDENT = CardRead(text=resident_block(), photo=PHOTO, chip_serial="AAAA0001")
HMT = CardRead(text=hmt_block(), photo=PHOTO, chip_serial="AAAA0002")
READ_AT = datetime(2025, 6, 15, 9, 30, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds


class FakeTransport:
    def __init__(self, clock=None, poll_cost=0.0):
        self.card: CardRead | None = None
        self.next_reads: list = []  # answers (or exceptions) for read_card before the card itself
        self.error: Exception | None = None
        self.reads = 0
        self.poll_starts: list[float] = []
        self._clock = clock
        self._poll_cost = poll_cost

    def card_present(self):
        if self._clock:
            self.poll_starts.append(self._clock.now)
            self._clock.now += self._poll_cost
        if self.error:
            raise self.error
        return self.card is not None

    def chip_serial(self):
        return self.card.chip_serial if self.card else None

    def read_card(self):
        self.reads += 1
        if self.next_reads:
            answer = self.next_reads.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return self.card

    def close(self):
        pass


class RecordingPoster:
    device_id = "reader-bj-001"

    def __init__(self, failures=()):
        self.failures = list(failures)
        self.posted: list[dict] = []
        self.attempted_at: list[float] = []
        self.clock = None

    def post(self, payload):
        if self.clock:
            self.attempted_at.append(self.clock.now)
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append(payload)
        return {"id": len(self.posted)}


def make_agent(transport=None, poster=None, clock=None, **options):
    clock = clock or Clock()
    transport = transport or FakeTransport()
    poster = poster or RecordingPoster()
    poster.clock = clock
    agent = Agent(transport, poster, clock=clock, sleep=clock.sleep, now=lambda: READ_AT, **options)
    return agent, transport, poster


def poll(agent, times):
    for _ in range(times):
        agent.poll_once()


def test_card_is_read_and_posted_once_while_it_stays_on_the_reader():
    agent, transport, poster = make_agent()
    transport.card = RESIDENT

    poll(agent, 5)

    assert transport.reads == 1
    assert [p["fields"]["name"] for p in poster.posted] == ["王小明"]


def test_same_card_placed_again_after_removal_is_posted_again():
    agent, transport, poster = make_agent()
    transport.card = RESIDENT
    poll(agent, 2)

    transport.card = None
    poll(agent, 2)
    transport.card = RESIDENT
    poll(agent, 2)

    assert transport.reads == 2
    assert len(poster.posted) == 2


def test_cards_taken_away_and_replaced_are_each_posted():
    agent, transport, poster = make_agent()
    for card in (RESIDENT, None, HMT, None, RESIDENT):
        transport.card = card
        poll(agent, 3)

    assert [p["chip_serial"] for p in poster.posted] == ["AAAA0001", "AAAA0002", "AAAA0001"]


def test_agent_remembers_the_card_until_it_is_removed():
    agent, transport, _ = make_agent()
    transport.card = HMT
    poll(agent, 1)
    remembered = agent.current

    transport.card = None
    poll(agent, 1)

    assert (remembered, agent.current) == ("AAAA0002", None)


def test_card_without_chip_serial_is_remembered_by_id_number():
    agent, transport, _ = make_agent()
    transport.card = CardRead(text=foreign_block(), photo=PHOTO, chip_serial=None)

    poll(agent, 2)

    assert agent.current == "USA110080030712"
    assert transport.reads == 1


@pytest.mark.parametrize("interval", [0, 0.1, 0.25, 0.299])
def test_interval_below_300_ms_is_refused(interval):
    with pytest.raises(ValueError, match="at least 0.3"):
        make_agent(interval=interval)


@pytest.mark.parametrize(("interval", "poll_cost"), [(MIN_INTERVAL, 0.0), (0.3, 0.12), (0.5, 0.0), (0.5, 0.3)])
def test_polls_start_at_least_the_interval_apart(interval, poll_cost):
    clock = Clock()
    transport = FakeTransport(clock=clock, poll_cost=poll_cost)
    agent, _, _ = make_agent(transport=transport, clock=clock, interval=interval)

    agent.run(max_polls=8)

    gaps = [b - a for a, b in zip(transport.poll_starts, transport.poll_starts[1:])]
    assert len(gaps) == 7
    assert all(gap >= interval - 1e-9 for gap in gaps)
    assert max(gaps) < interval + 1e-9  # and no slower than asked


def test_poll_slower_than_the_interval_is_followed_at_once():
    clock = Clock()
    transport = FakeTransport(clock=clock, poll_cost=0.8)
    agent, _, _ = make_agent(transport=transport, clock=clock, interval=0.5)

    agent.run(max_polls=3)

    assert transport.poll_starts == pytest.approx([1000.0, 1000.8, 1001.6])


def test_run_stops_when_asked():
    clock = Clock()
    transport = FakeTransport(clock=clock)
    agent, _, _ = make_agent(transport=transport, clock=clock)
    stops = iter([False, False, True])

    agent.run(should_stop=lambda: next(stops))

    assert len(transport.poll_starts) == 2


def test_malformed_block_is_logged_not_posted_and_not_read_again(caplog):
    agent, transport, poster = make_agent()
    transport.card = CardRead(text=resident_block()[:200], photo=PHOTO, chip_serial="BAD00001")

    with caplog.at_level(logging.ERROR, logger="reader_agent"):
        poll(agent, 4)

    assert poster.posted == []
    assert transport.reads == 1
    assert "card BAD00001: cannot decode its text block: text block must be 256 bytes, got 200" in caplog.text


def test_card_leaving_mid_read_is_read_on_the_next_poll():
    agent, transport, poster = make_agent()
    transport.card = RESIDENT
    transport.next_reads = [None, TransportError("checksum error")]

    poll(agent, 4)

    assert transport.reads == 3
    assert len(poster.posted) == 1


def test_reader_failure_is_logged_once_while_it_lasts(caplog):
    agent, transport, _ = make_agent()
    transport.error = TransportError("cannot open /dev/ttyUSB0: No such file or directory")

    with caplog.at_level(logging.INFO, logger="reader_agent"):
        poll(agent, 5)
        transport.error = None
        poll(agent, 1)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["reader: cannot open /dev/ttyUSB0: No such file or directory"]
    assert "reader is back" in caplog.text


def test_reader_without_sam_is_reported_once_per_card(caplog):
    agent, transport, poster = make_agent()
    transport.card = RESIDENT
    transport.next_reads = [SamUnavailable("reader X carries no ID-card SAM (6E 00)")]

    with caplog.at_level(logging.WARNING, logger="reader_agent"):
        poll(agent, 4)

    assert transport.reads == 1
    assert poster.posted == []
    assert caplog.text.count("carries no ID-card SAM") == 1


def test_chip_serial_only_read_is_not_posted():
    agent, transport, poster = make_agent()
    transport.card = CardRead(text=None, photo=None, chip_serial="0A0B0C0D")

    poll(agent, 3)

    assert poster.posted == []
    assert agent.current == "0A0B0C0D"


def test_failed_post_is_retried_with_growing_pauses_then_delivered():
    clock = Clock()
    poster = RecordingPoster(failures=[PostError("down", retryable=True)] * 3)
    agent, transport, _ = make_agent(poster=poster, clock=clock)
    transport.card = RESIDENT

    for _ in range(40):
        agent.poll_once()
        clock.now += 0.5

    assert len(poster.posted) == 1
    pauses = [b - a for a, b in zip(poster.attempted_at, poster.attempted_at[1:])]
    assert pauses == sorted(pauses)
    assert all(pause >= 1.0 for pause in pauses)  # a fresh timestamp, never a replayed signature
    assert transport.reads == 1


def test_post_retries_continue_after_the_card_is_removed():
    clock = Clock()
    poster = RecordingPoster(failures=[PostError("down", retryable=True)])
    agent, transport, _ = make_agent(poster=poster, clock=clock)
    transport.card = RESIDENT
    agent.poll_once()

    transport.card = None
    clock.now += 2
    agent.poll_once()

    assert len(poster.posted) == 1


def test_refused_post_is_not_retried(caplog):
    clock = Clock()
    poster = RecordingPoster(failures=[PostError("HTTP 401", status=401, retryable=False)])
    agent, transport, _ = make_agent(poster=poster, clock=clock)
    transport.card = RESIDENT

    with caplog.at_level(logging.ERROR, logger="reader_agent"):
        for _ in range(10):
            agent.poll_once()
            clock.now += 5

    assert len(poster.attempted_at) == 1
    assert poster.posted == []
    assert "read not posted after 1 attempt(s): HTTP 401" in caplog.text


def test_post_gives_up_after_the_last_attempt():
    clock = Clock()
    poster = RecordingPoster(failures=[PostError("down", retryable=True)] * 10)
    agent, transport, _ = make_agent(poster=poster, clock=clock, max_post_attempts=3)
    transport.card = RESIDENT

    for _ in range(100):
        agent.poll_once()
        clock.now += 1

    assert len(poster.attempted_at) == 3
    assert poster.posted == []


def test_payload_carries_fields_photo_as_received_and_chip_serial():
    read = CardRead(text=hmt_block(), photo=PHOTO, chip_serial="AAAA0002")

    body = build_payload("reader-bj-001", read, decode_text_block(read.text), READ_AT)

    assert set(body) == {"device_id", "read_at", "fields", "photo_raw", "photo_png", "chip_serial"}
    assert body["read_at"] == "2025-06-15T09:30:00.000+00:00"
    assert base64.b64decode(body["photo_raw"]) == PHOTO
    assert body["photo_png"] is None
    assert body["fields"]["pass_number"] == "H12345678"


def test_payload_includes_a_decoded_photo_when_the_transport_has_one():
    read = CardRead(text=resident_block(), photo=PHOTO, chip_serial=None, photo_png=b"\x89PNG\r\n")

    body = build_payload("reader-bj-001", read, decode_text_block(read.text), READ_AT)

    assert base64.b64decode(body["photo_png"]) == b"\x89PNG\r\n"


@pytest.mark.parametrize(
    ("number", "masked"),
    [("110101199003071233", "**************1233"), ("USA110080030712", "***********0712"), ("123", "123"), (None, "?")],
)
def test_log_lines_show_only_the_last_four_characters_of_an_id_number(number, masked):
    assert mask_id(number) == masked
