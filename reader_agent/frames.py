"""Encode and decode the frames spoken by the ID-card security module (SAM).

A frame is: preamble AA AA AA 96 69, a 2-byte big-endian length that counts
everything after it (payload and checksum), the payload, and one checksum
byte, the XOR of the length bytes and the payload. Requests carry a 2-byte
command as payload (find card 20 01 → AA AA AA 96 69 00 03 20 01 22);
responses carry SW1 SW2 SW3 and then data. SW1 and SW2 are 00 00 in every
driver we read; SW3 is the status (Status below).

Sources: lochyhuang/DKCloudID_UART_Andoird (frame layout, 1295-byte read
response), the SAMV_* constants and "寻找证/卡成功" tables in several reader
drivers and the HslCommunication SAM status texts (status codes).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

PREAMBLE = bytes.fromhex("AAAAAA9669")
_HEADER_SIZE = len(PREAMBLE) + 2

FIND_CARD = bytes.fromhex("2001")  # 寻找证/卡
SELECT_CARD = bytes.fromhex("2002")  # 选取证/卡; the answer carries the card's 8-byte management number
READ_BASE_INFO = bytes.fromhex("3001")  # 读基本信息: text block and photo


class Status(enum.IntEnum):
    """SW3 of a SAM response."""

    SUCCESS = 0x90  # 操作成功
    NO_CONTENT = 0x91  # 证/卡中此项无内容
    CARD_FOUND = 0x9F  # 寻找证/卡成功
    CHECKSUM_ERROR = 0x10  # 接收业务终端数据的校验和错
    LENGTH_ERROR = 0x11  # 接收业务终端数据的长度错
    COMMAND_ERROR = 0x21  # 接收业务终端的命令错误
    NOT_PERMITTED = 0x23  # 越权操作
    UNKNOWN_ERROR = 0x24  # 无法识别的错误
    CARD_REJECTED_SAM = 0x31  # 证/卡认证 SAM 失败
    SAM_REJECTED_CARD = 0x32  # SAM 认证证/卡失败
    VERIFICATION_FAILED = 0x33  # 信息验证错误
    UNKNOWN_CARD_TYPE = 0x40  # 无法识别的卡类型
    READ_FAILED = 0x41  # 读证/卡操作失败
    RANDOM_FAILED = 0x47  # 取随机数失败
    SELF_TEST_FAILED = 0x60  # SAM 自检失败
    SAM_NOT_AUTHORISED = 0x66  # SAM 未经授权
    FIND_FAILED = 0x80  # 寻找证/卡失败 (no card in the field)
    SELECT_FAILED = 0x81  # 选取证/卡失败


class FrameError(ValueError):
    """Bytes that are not a well-formed SAM frame."""


def checksum(data: bytes) -> int:
    """XOR of all bytes: the frame checksum over length and payload."""
    return reduce(lambda acc, byte: acc ^ byte, data, 0)


def encode_frame(payload: bytes) -> bytes:
    """Wrap a payload in preamble, length and checksum."""
    length = len(payload) + 1
    if length > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([checksum(body)])


def decode_frame(frame: bytes) -> bytes:
    """Return the payload of one complete frame; raise FrameError if it is damaged."""
    if len(frame) < _HEADER_SIZE + 1:
        raise FrameError(f"frame too short ({len(frame)} bytes)")
    if not frame.startswith(PREAMBLE):
        raise FrameError(f"bad preamble {frame[:len(PREAMBLE)].hex(' ')}")
    length = int.from_bytes(frame[len(PREAMBLE):_HEADER_SIZE], "big")
    if length < 1 or len(frame) != _HEADER_SIZE + length:
        raise FrameError(f"length field says {length} bytes, frame carries {len(frame) - _HEADER_SIZE}")
    if checksum(frame[len(PREAMBLE):-1]) != frame[-1]:
        raise FrameError("checksum mismatch")
    return frame[_HEADER_SIZE:-1]


def encode_command(command: bytes, data: bytes = b"") -> bytes:
    """Build a request frame for a 2-byte command such as FIND_CARD."""
    if len(command) != 2:
        raise ValueError("a SAM command is two bytes")
    return encode_frame(command + data)


def decode_command(frame: bytes) -> tuple[bytes, bytes]:
    """Split a request frame into (command, data)."""
    payload = decode_frame(frame)
    if len(payload) < 2:
        raise FrameError("request frame has no command")
    return payload[:2], payload[2:]


@dataclass(frozen=True)
class Response:
    """A decoded SAM response."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    @property
    def status(self) -> Status | None:
        try:
            return Status(self.sw3)
        except ValueError:
            return None

    def describe(self) -> str:
        name = self.status.name if self.status else "unknown status"
        return f"SAM status {self.sw1:02X} {self.sw2:02X} {self.sw3:02X} ({name})"


def encode_response(sw3: int, data: bytes = b"", *, sw1: int = 0, sw2: int = 0) -> bytes:
    """Build a response frame (what a SAM sends back)."""
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


def decode_response(frame: bytes) -> Response:
    """Decode a response frame into status words and data."""
    payload = decode_frame(frame)
    if len(payload) < 3:
        raise FrameError("response frame has no status words")
    return Response(payload[0], payload[1], payload[2], payload[3:])


def encode_base_info(text: bytes, photo: bytes) -> bytes:
    """Build the data of a read-base-information response."""
    return len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo


def parse_base_info(data: bytes) -> tuple[bytes, bytes]:
    """Split read-base-information data into (text block, photo)."""
    if len(data) < 4:
        raise FrameError("base information too short for its length fields")
    text_length = int.from_bytes(data[0:2], "big")
    photo_length = int.from_bytes(data[2:4], "big")
    if len(data) != 4 + text_length + photo_length:
        raise FrameError(
            f"base information says {text_length}+{photo_length} bytes, carries {len(data) - 4}"
        )
    return data[4:4 + text_length], data[4 + text_length:]


def read_frame(read: Callable[[int], bytes], *, max_skip: int = 4096) -> bytes:
    """Read one frame from a byte stream, skipping line noise before the preamble.

    `read(n)` returns up to n bytes and b"" on timeout (pyserial's contract).
    """
    window = b""
    skipped = 0
    while window != PREAMBLE:
        window = (window + _read_exact(read, 1))[-len(PREAMBLE):]
        skipped += 1
        if skipped > max_skip + len(PREAMBLE):
            raise FrameError("no frame preamble in the stream")
    length_bytes = _read_exact(read, 2)
    length = int.from_bytes(length_bytes, "big")
    if length < 1:
        raise FrameError("frame length is zero")
    return PREAMBLE + length_bytes + _read_exact(read, length)


def _read_exact(read: Callable[[int], bytes], size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = read(size - len(chunks))
        if not chunk:
            raise FrameError(f"timed out with {len(chunks)} of {size} bytes")
        chunks += chunk
    return chunks
