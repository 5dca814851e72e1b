"""Transports: SAM over a serial port, PC/SC (against a stand-in pyscard) and replay files."""

import base64
import json
from pathlib import Path

import pytest

from reader_agent.decode import decode_text_block
from reader_agent.frames import Status
from reader_agent.transports import (
    CardRead,
    PcscTransport,
    ReplayFileError,
    ReplayTransport,
    SamUnavailable,
    SerialSamTransport,
    TransportError,
    load_replay,
    replay_record,
)
from tests.reader_agent.fake_sam import MANAGEMENT_NUMBER, FakeSam, FakeSerialPort
from tests.reader_agent.fixtures import PHOTO, foreign_block, hmt_block, resident_block
from tests.reader_agent.virtual_card import CardApplet

CHIP_SERIAL = bytes.fromhex("A1B2C3D4")


# --- serial SAM ---------------------------------------------------------------


def serial_transport(sam, **port_options):
    port = FakeSerialPort(sam, **port_options)
    transport = SerialSamTransport("/dev/ttyFAKE", serial_factory=lambda name, baud, timeout: port, timeout=0.5)
    return transport, port


def test_serial_sam_reads_text_photo_and_management_number():
    transport, _ = serial_transport(FakeSam(hmt_block()), noise=b"\x00\xff")

    assert transport.card_present()
    assert transport.read_card() == CardRead(
        text=hmt_block(), photo=PHOTO, chip_serial=MANAGEMENT_NUMBER.hex().upper()
    )


def test_serial_sam_reports_no_card_when_the_field_is_empty():
    transport, _ = serial_transport(FakeSam())

    assert not transport.card_present()
    assert transport.read_card() is None
    assert transport.chip_serial() is None


def test_serial_sam_does_not_find_a_read_card_again_until_it_is_replaced():
    sam = FakeSam(resident_block())
    transport, _ = serial_transport(sam)
    assert transport.card_present()
    assert transport.read_card() is not None

    still_there = transport.card_present()
    sam.remove()
    sam.place(foreign_block())
    replaced = transport.card_present()

    assert (still_there, replaced) == (False, True)
    assert transport.read_card().text == foreign_block()


def test_serial_sam_chip_serial_is_the_management_number():
    transport, _ = serial_transport(FakeSam(resident_block()))

    assert transport.chip_serial() == "0123456789ABCDEF"


@pytest.mark.parametrize(
    ("status", "message"),
    [(Status.SAM_NOT_AUTHORISED, "SAM_NOT_AUTHORISED"), (Status.SELF_TEST_FAILED, "SELF_TEST_FAILED")],
)
def test_serial_sam_error_status_is_a_transport_error(status, message):
    sam = FakeSam(resident_block())
    sam.fail_with = status
    transport, _ = serial_transport(sam)

    with pytest.raises(TransportError, match=message):
        transport.card_present()


def test_serial_sam_garbled_answer_is_a_transport_error():
    transport, _ = serial_transport(FakeSam(resident_block()), mangle=lambda answer: answer[:-1] + b"\x00")

    with pytest.raises(TransportError, match="garbled"):
        transport.card_present()


def test_serial_sam_silence_times_out():
    transport, _ = serial_transport(FakeSam(resident_block()), mangle=lambda answer: b"")

    with pytest.raises(TransportError, match="timed out"):
        transport.card_present()


def test_serial_port_that_cannot_be_opened_is_a_transport_error():
    def refuse(name, baud, timeout):
        raise OSError(2, "No such file or directory")

    transport = SerialSamTransport("/dev/ttyGONE", serial_factory=refuse)

    with pytest.raises(TransportError, match="cannot open /dev/ttyGONE"):
        transport.card_present()


def test_serial_port_failure_closes_the_port_for_a_reopen():
    transport, port = serial_transport(FakeSam(resident_block()))
    port.closed = True

    with pytest.raises(TransportError):
        transport.card_present()
    assert transport._port is None


# --- PC/SC, against a stand-in for pyscard's smartcard.scard ------------------


class FakeScard:
    """The parts of smartcard.scard that PcscTransport uses, with one reader slot."""

    SCARD_S_SUCCESS = 0
    SCARD_SCOPE_USER = 0
    SCARD_STATE_UNAWARE = 0x0
    SCARD_STATE_EMPTY = 0x10
    SCARD_STATE_PRESENT = 0x20
    SCARD_STATE_MUTE = 0x200
    SCARD_SHARE_SHARED = 2
    SCARD_PROTOCOL_T0 = 1
    SCARD_PROTOCOL_T1 = 2
    SCARD_LEAVE_CARD = 0
    SCARD_E_NO_SMARTCARD = 0x8010000C
    SCARD_E_NO_SERVICE = 0x8010001D
    SCARD_W_UNRESPONSIVE_CARD = 0x80100066
    SCARD_W_REMOVED_CARD = 0x80100069

    def __init__(self, applet=None, readers=("Fake Reader 00 00",)):
        self.applet = applet
        self.readers = list(readers)
        self.service = self.SCARD_S_SUCCESS
        self.connected_to = []
        self.open_cards = 0

    def SCardEstablishContext(self, scope):
        return self.service, 1

    def SCardListReaders(self, context, groups):
        return self.SCARD_S_SUCCESS, self.readers

    def SCardGetStatusChange(self, context, timeout, states):
        state = self.SCARD_STATE_PRESENT if self.applet else self.SCARD_STATE_EMPTY
        return self.SCARD_S_SUCCESS, [(states[0][0], state, [])]

    def SCardConnect(self, context, reader, share, protocols):
        if self.applet is None:
            return self.SCARD_E_NO_SMARTCARD, 0, 0
        self.connected_to.append(reader)
        self.open_cards += 1
        return self.SCARD_S_SUCCESS, 7, self.SCARD_PROTOCOL_T1

    def SCardTransmit(self, card, protocol, apdu):
        return self.SCARD_S_SUCCESS, list(self.applet.process(bytes(apdu)))

    def SCardDisconnect(self, card, disposition):
        self.open_cards -= 1
        return self.SCARD_S_SUCCESS

    def SCardReleaseContext(self, context):
        return self.SCARD_S_SUCCESS

    def SCardGetErrorMessage(self, hresult):
        return f"error {hresult:#x}"


def applet_with(text=None):
    return CardApplet(FakeSam(text or resident_block()), CHIP_SERIAL)


def test_pcsc_reads_the_sam_through_chunked_ff_f0_answers():
    applet = applet_with(foreign_block())
    scard = FakeScard(applet)
    transport = PcscTransport(scard=scard)

    assert transport.card_present()
    read = transport.read_card()

    assert read == CardRead(text=foreign_block(), photo=PHOTO, chip_serial="A1B2C3D4")
    sent = [apdu[:2].hex().upper() for apdu in applet.apdus]
    # 1295-byte answer: 256 bytes with the first APDU, the rest by GET RESPONSE.
    assert sent == ["FFCA", "FFF0", "FFF0", "FFF0"] + ["00C0"] * 5
    assert scard.open_cards == 0


def test_pcsc_without_card_is_absent_and_reads_nothing():
    transport = PcscTransport(scard=FakeScard(applet=None))

    assert not transport.card_present()
    assert transport.read_card() is None
    assert transport.chip_serial() is None


def test_pcsc_chip_serial_comes_from_get_data():
    assert PcscTransport(scard=FakeScard(applet_with())).chip_serial() == "A1B2C3D4"


def test_pcsc_reader_without_sam_is_reported_as_such():
    class NoSam(CardApplet):
        def process(self, apdu):
            return b"\x6E\x00" if apdu[:2] == b"\xFF\xF0" else super().process(apdu)

    scard = FakeScard(NoSam(FakeSam(resident_block()), CHIP_SERIAL))

    with pytest.raises(SamUnavailable, match="no ID-card SAM"):
        PcscTransport(scard=scard).read_card()
    assert scard.open_cards == 0


def test_pcsc_plain_reader_mode_returns_only_the_chip_serial():
    read = PcscTransport(sam=False, scard=FakeScard(applet_with())).read_card()

    assert read == CardRead(text=None, photo=None, chip_serial="A1B2C3D4")


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [(None, "ACS ACR122U 00 00"), ("Virtual", "Virtual PCD 00 00"), ("00 01", "Virtual PCD 00 01")],
)
def test_pcsc_picks_the_first_reader_whose_name_matches(wanted, chosen):
    scard = FakeScard(applet_with(), readers=["ACS ACR122U 00 00", "Virtual PCD 00 00", "Virtual PCD 00 01"])

    PcscTransport(wanted, scard=scard).chip_serial()

    assert scard.connected_to == [chosen]


def test_pcsc_no_matching_reader_is_a_transport_error():
    with pytest.raises(TransportError, match="no PC/SC reader matching 'Nope'"):
        PcscTransport("Nope", scard=FakeScard(applet_with())).card_present()


def test_pcsc_service_down_is_a_transport_error():
    scard = FakeScard(applet_with())
    scard.service = FakeScard.SCARD_E_NO_SERVICE

    with pytest.raises(TransportError, match="PC/SC unavailable"):
        PcscTransport(scard=scard).card_present()


# --- replay files -------------------------------------------------------------


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def write_replay(path, records, as_array=False):
    if as_array:
        path.write_text(json.dumps(records), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


RESIDENT_READ = CardRead(text=resident_block(), photo=PHOTO, chip_serial="01", photo_png=b"\x89PNG fake")
HMT_READ = CardRead(text=hmt_block(), photo=PHOTO, chip_serial=None)


@pytest.mark.parametrize("as_array", [False, True], ids=["jsonl", "array"])
@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0.0, None), (0.9, None), (1.0, RESIDENT_READ), (2.9, RESIDENT_READ), (3.0, None),
     (3.4, None), (3.5, HMT_READ), (4.4, HMT_READ), (4.5, None), (60.0, None)],
)
def test_replay_places_and_removes_cards_on_schedule(tmp_path, as_array, elapsed, expected):
    path = write_replay(
        tmp_path / "demo.jsonl",
        [replay_record(RESIDENT_READ, delay=1.0, hold=2.0), replay_record(HMT_READ, delay=0.5, hold=1.0)],
        as_array,
    )
    clock = FakeClock()
    transport = ReplayTransport(path, clock=clock)
    transport.card_present()  # the schedule starts at the first poll

    clock.now += elapsed

    assert transport.card_present() is (expected is not None)
    assert transport.read_card() == expected
    assert transport.chip_serial() == (expected.chip_serial if expected else None)


def test_replay_loop_starts_over(tmp_path):
    path = write_replay(tmp_path / "demo.jsonl", [replay_record(HMT_READ, delay=1.0, hold=1.0)])
    clock = FakeClock()
    transport = ReplayTransport(path, loop=True, clock=clock)
    transport.card_present()

    clock.now += 11.5

    assert transport.read_card() == HMT_READ


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "not base64!"}\n', r"demo.jsonl:1: text is not base64"),
        ('{"photo": ""}\n', r"demo.jsonl:1: text is missing"),
        ('\n{"text": "AAAA"}\n{oops\n', r"demo.jsonl:3: "),
        ('{"text": "AAAA", "delay": -1}\n', r"delay must be >= 0"),
        ('{"text": "AAAA", "hold": "long"}\n', r"delay and hold are seconds"),
        ('["text"]', r"a record must be a JSON object"),
    ],
)
def test_unusable_replay_file_is_refused_with_its_line(tmp_path, content, message):
    path = tmp_path / "demo.jsonl"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ReplayFileError, match=message):
        ReplayTransport(path)


def test_missing_replay_file_is_refused(tmp_path):
    with pytest.raises(ReplayFileError, match="cannot read replay file"):
        ReplayTransport(tmp_path / "absent.jsonl")


def test_replay_record_round_trips_every_field(tmp_path):
    record = replay_record(RESIDENT_READ, delay=0.0, hold=1.0)
    path = write_replay(tmp_path / "one.jsonl", [record])

    assert record["text"] == base64.b64encode(resident_block()).decode()
    assert ReplayTransport(path).read_card() == RESIDENT_READ


def test_bundled_demo_replay_holds_one_decodable_card_of_each_type():
    demo = Path(__file__).resolve().parents[2] / "reader_agent" / "samples" / "demo-replay.jsonl"

    card_types = [decode_text_block(read.text)["card_type"] for _, _, read in load_replay(demo)]

    assert card_types == ["resident_id", "hmt_residence_permit", "foreign_permanent_residence"]
