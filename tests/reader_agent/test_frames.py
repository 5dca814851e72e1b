"""SAM frame encoding, checksums and damaged frames."""

import io

import pytest

from reader_agent import frames
from reader_agent.frames import FrameError, Response, Status
from tests.reader_agent.fixtures import PHOTO, resident_block

# Request frames exactly as reader drivers send them.
KNOWN_REQUESTS = [
    (frames.FIND_CARD, "AAAAAA96690003200122"),
    (frames.SELECT_CARD, "AAAAAA96690003200221"),
    (frames.READ_BASE_INFO, "AAAAAA96690003300132"),
]


@pytest.mark.parametrize(("command", "wire"), KNOWN_REQUESTS)
def test_commands_encode_to_the_frames_drivers_send(command, wire):
    assert frames.encode_command(command) == bytes.fromhex(wire)


@pytest.mark.parametrize(("command", "wire"), KNOWN_REQUESTS)
def test_driver_frames_decode_back_to_their_command(command, wire):
    assert frames.decode_command(bytes.fromhex(wire)) == (command, b"")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0),
        (bytes.fromhex("00032001"), 0x22),
        (bytes.fromhex("0008 00009F 00000000"), 0x97),
        (bytes([0xFF, 0xFF]), 0x00),
        (bytes(range(256)), 0x00),
    ],
)
def test_checksum_is_the_xor_of_length_and_payload(data, expected):
    assert frames.checksum(data) == expected


def test_card_found_response_decodes_to_status_9f():
    response = frames.decode_response(bytes.fromhex("AAAAAA9669 0008 00009F 00000000 97"))

    assert response == Response(0x00, 0x00, 0x9F, bytes(4))
    assert response.status is Status.CARD_FOUND


def test_read_base_info_response_has_the_1295_bytes_drivers_expect():
    text = resident_block()
    frame = frames.encode_response(Status.SUCCESS, frames.encode_base_info(text, PHOTO))

    assert len(frame) == 1295
    assert frame[:14] == bytes.fromhex("AAAAAA9669 0508 000090 0100 0400")
    assert frames.parse_base_info(frames.decode_response(frame).data) == (text, PHOTO)


@pytest.mark.parametrize(
    ("sw3", "data"),
    [(Status.SUCCESS, b""), (Status.CARD_FOUND, bytes(4)), (Status.SELECT_FAILED, b""), (0x90, bytes(range(200)))],
)
def test_responses_round_trip(sw3, data):
    response = frames.decode_response(frames.encode_response(sw3, data, sw1=0x01, sw2=0x02))

    assert (response.sw1, response.sw2, response.sw3, response.data) == (0x01, 0x02, sw3, data)


def test_unknown_status_is_described_not_rejected():
    response = frames.decode_response(frames.encode_response(0x55))

    assert response.status is None
    assert response.describe() == "SAM status 00 00 55 (unknown status)"


def _good() -> bytes:
    return frames.encode_response(Status.SUCCESS, b"\x01\x02\x03")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "too short"),
        (_good()[:7], "too short"),
        (b"\xAA\xAA\xAA\x96\x68" + _good()[5:], "bad preamble"),
        (_good()[:-1], "length field says"),
        (_good() + b"\x00", "length field says"),
        (_good()[:-1] + bytes([_good()[-1] ^ 0x01]), "checksum mismatch"),
        (_good()[:9] + b"\x7F" + _good()[10:], "checksum mismatch"),
        (bytes.fromhex("AAAAAA9669 0000"), "too short"),
        (bytes.fromhex("AAAAAA9669 0000 00"), "length field says 0"),
    ],
    ids=["empty", "header-only", "preamble", "truncated", "trailing-byte", "bad-checksum", "flipped-data", "no-body", "zero-length"],
)
def test_damaged_frames_are_refused(frame, message):
    with pytest.raises(FrameError, match=message):
        frames.decode_frame(frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (frames.encode_frame(b"\x90"), "no status words"),
        (frames.encode_frame(b""), "no status words"),
    ],
)
def test_response_without_status_words_is_refused(frame, message):
    with pytest.raises(FrameError, match=message):
        frames.decode_response(frame)


@pytest.mark.parametrize(
    "data",
    [
        b"\x01",
        frames.encode_base_info(b"abc", b"de")[:-1],
        frames.encode_base_info(b"abc", b"de") + b"f",
    ],
    ids=["no-lengths", "short", "long"],
)
def test_base_info_with_inconsistent_lengths_is_refused(data):
    with pytest.raises(FrameError):
        frames.parse_base_info(data)


def test_read_frame_skips_noise_and_stops_at_the_frame_end():
    frame = frames.encode_response(Status.CARD_FOUND, bytes(4))
    stream = io.BytesIO(b"\x00\xAA\xAA\x13" + frame + b"next")

    assert frames.read_frame(stream.read) == frame
    assert stream.read() == b"next"


@pytest.mark.parametrize(
    "stream",
    [b"", b"\xAA\xAA\xAA\x96\x69\x00", frames.encode_response(Status.SUCCESS, b"12345")[:-3]],
    ids=["silence", "cut-in-length", "cut-in-body"],
)
def test_read_frame_times_out_on_a_cut_stream(stream):
    with pytest.raises(FrameError, match="timed out"):
        frames.read_frame(io.BytesIO(stream).read)


def test_read_frame_gives_up_on_endless_noise():
    with pytest.raises(FrameError, match="no frame preamble"):
        frames.read_frame(io.BytesIO(b"\x00" * 100).read, max_skip=10)


def test_oversized_payload_cannot_be_framed():
    with pytest.raises(ValueError):
        frames.encode_frame(bytes(0xFFFF))
