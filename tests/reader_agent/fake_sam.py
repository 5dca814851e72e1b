"""Test doubles: an ID-card SAM that answers request frames, and a serial port in front of it."""

from __future__ import annotations

from reader_agent.frames import (
    FIND_CARD,
    READ_BASE_INFO,
    SELECT_CARD,
    FrameError,
    Status,
    decode_command,
    encode_base_info,
    encode_response,
)
from tests.reader_agent.fixtures import PHOTO, resident_block

MANAGEMENT_NUMBER = bytes.fromhex("0123456789ABCDEF")


class FakeSam:
    """One card slot; like real SAMs it stops finding a card it has read until the card is removed."""

    def __init__(self, text: bytes | None = None, photo: bytes = PHOTO, number: bytes = MANAGEMENT_NUMBER):
        self.card: tuple[bytes, bytes] | None = None
        self.number = number
        self.commands: list[bytes] = []
        self.fail_with: int | None = None  # answer every command with this status
        self._read_done = False
        if text is not None:
            self.place(text, photo)

    def place(self, text: bytes | None = None, photo: bytes = PHOTO) -> None:
        self.card = (resident_block() if text is None else text, photo)
        self._read_done = False

    def remove(self) -> None:
        self.card = None
        self._read_done = False

    def handle(self, frame: bytes) -> bytes:
        try:
            command, _ = decode_command(frame)
        except FrameError:
            return encode_response(Status.CHECKSUM_ERROR)
        self.commands.append(command)
        if self.fail_with is not None:
            return encode_response(self.fail_with)
        if command == FIND_CARD:
            if self.card is None or self._read_done:
                return encode_response(Status.FIND_FAILED)
            return encode_response(Status.CARD_FOUND, bytes(4))
        if command == SELECT_CARD:
            if self.card is None:
                return encode_response(Status.SELECT_FAILED)
            return encode_response(Status.SUCCESS, self.number)
        if command == READ_BASE_INFO:
            if self.card is None:
                return encode_response(Status.READ_FAILED)
            self._read_done = True
            return encode_response(Status.SUCCESS, encode_base_info(*self.card))
        return encode_response(Status.COMMAND_ERROR)


class FakeSerialPort:
    """pyserial's read/write/reset_input_buffer/close over a FakeSam, answering in small chunks."""

    def __init__(self, sam: FakeSam, *, chunk: int = 64, noise: bytes = b"", mangle=None):
        self.sam = sam
        self.chunk = chunk
        self.noise = noise
        self.mangle = mangle or (lambda answer: answer)
        self.closed = False
        self._buffer = b""

    def write(self, frame: bytes) -> int:
        if self.closed:
            raise OSError("port closed")
        self._buffer += self.noise + self.mangle(self.sam.handle(frame))
        return len(frame)

    def read(self, size: int) -> bytes:
        data, self._buffer = self._buffer[:min(size, self.chunk)], self._buffer[min(size, self.chunk):]
        return data

    def reset_input_buffer(self) -> None:
        self._buffer = b""

    def close(self) -> None:
        self.closed = True
