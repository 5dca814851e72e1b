"""Card-reader transports behind one interface: SAM over a serial port, PC/SC, replay files.

pyserial and pyscard are imported only when their transport is used, so the
decoder, the CLI's `decode` and the replay transport run without them.

The photo on the card is compressed with the proprietary WLT format, for
which there is no open decoder: transports keep it as received and set
`photo_png` only when the source already holds a decoded image (replay files).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reader_agent.frames import (
    FIND_CARD,
    READ_BASE_INFO,
    SELECT_CARD,
    FrameError,
    Response,
    Status,
    decode_response,
    encode_command,
    parse_base_info,
    read_frame,
)


@dataclass(frozen=True)
class CardRead:
    """What one read of a card produced."""

    text: bytes | None  # the 256-byte text block; None from a reader without SAM
    photo: bytes | None  # the photo exactly as the SAM sent it (WLT)
    chip_serial: str | None  # upper-case hex
    photo_png: bytes | None = None  # decoded image, only when the transport provides one


class TransportError(Exception):
    """The reader could not be talked to; the agent logs it and polls again."""


class SamUnavailable(TransportError):
    """The reader answers PC/SC but carries no ID-card SAM."""


class Transport(Protocol):
    def card_present(self) -> bool: ...

    def chip_serial(self) -> str | None: ...

    def read_card(self) -> CardRead | None: ...

    def close(self) -> None: ...


class SamSession:
    """The SAM command sequence (find, select, read) over any frame exchange."""

    def __init__(self, exchange: Callable[[bytes], bytes]):
        self._exchange = exchange

    def _call(self, command: bytes) -> Response:
        try:
            return decode_response(self._exchange(encode_command(command)))
        except FrameError as exc:
            raise TransportError(f"garbled SAM response: {exc}") from exc

    def find_card(self) -> bool:
        """True if a card is in the field. Real SAMs keep answering "not found"
        after a successful read until the card is taken away."""
        response = self._call(FIND_CARD)
        if response.sw3 == Status.CARD_FOUND:
            return True
        if response.sw3 == Status.FIND_FAILED:
            return False
        raise TransportError(f"find card failed: {response.describe()}")

    def select_card(self) -> bytes | None:
        """Select the found card; return its management number, None if it left."""
        response = self._call(SELECT_CARD)
        if response.sw3 == Status.SUCCESS:
            return response.data
        if response.sw3 == Status.SELECT_FAILED:
            return None
        raise TransportError(f"select card failed: {response.describe()}")

    def read_base_info(self) -> tuple[bytes, bytes] | None:
        """Return (text block, photo), None if the card left the field mid-read."""
        response = self._call(READ_BASE_INFO)
        if response.sw3 == Status.READ_FAILED:
            return None
        if response.sw3 != Status.SUCCESS:
            raise TransportError(f"read base information failed: {response.describe()}")
        try:
            return parse_base_info(response.data)
        except FrameError as exc:
            raise TransportError(f"garbled base information: {exc}") from exc


class SerialSamTransport:
    """A licensed reader whose SAM speaks frames over a serial (or USB-serial) port."""

    def __init__(self, port: str, baudrate: int = 115200, *, timeout: float = 3.0, serial_factory=None):
        self._port_name = port
        self._baudrate = baudrate
        self._timeout = timeout
        self._serial_factory = serial_factory
        self._port = None
        self._session = SamSession(self._exchange)
        self._found = False

    def _open(self):
        if self._port is None:
            factory = self._serial_factory
            if factory is None:
                try:
                    import serial
                except ImportError as exc:
                    raise TransportError(
                        "pyserial is not installed: pip install -r reader_agent/requirements.txt"
                    ) from exc
                factory = serial.Serial
            try:
                # A short per-read timeout; _exchange enforces the overall deadline.
                self._port = factory(self._port_name, self._baudrate, timeout=0.2)
            except Exception as exc:  # pyserial raises SerialException, an OSError or ValueError
                raise TransportError(f"cannot open {self._port_name}: {exc}") from exc
        return self._port

    def _exchange(self, frame: bytes) -> bytes:
        port = self._open()
        deadline = time.monotonic() + self._timeout

        def read(size: int) -> bytes:
            return port.read(size) if time.monotonic() < deadline else b""

        try:
            # Bytes left over from an earlier, timed-out answer would desynchronise us.
            port.reset_input_buffer()
            port.write(frame)
            return read_frame(read)
        except FrameError:
            raise
        except Exception as exc:
            # The port is gone (USB unplugged): reopen on the next poll.
            self.close()
            raise TransportError(f"serial port {self._port_name}: {exc}") from exc

    def card_present(self) -> bool:
        self._found = self._session.find_card()
        return self._found

    def chip_serial(self) -> str | None:
        if not (self._found or self.card_present()):
            return None
        number = self._session.select_card()
        return number.hex().upper() if number else None

    def read_card(self) -> CardRead | None:
        if not (self._found or self.card_present()):
            return None
        self._found = False
        number = self._session.select_card()
        if number is None:
            return None
        info = self._session.read_base_info()
        if info is None:
            return None
        text, photo = info
        return CardRead(text=text, photo=photo, chip_serial=number.hex().upper() or None)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:
                pass


# PC/SC APDUs.
GET_CHIP_SERIAL = [0xFF, 0xCA, 0x00, 0x00, 0x00]  # PC/SC part 3 GET DATA: the card's UID/PUPI
# Proprietary: a SAM request frame wrapped as data of CLA FF INS F0 P1 00 P2 00,
# answered by the SAM response frame and 90 00. Readers that carry the SAM
# behind PC/SC intercept it like FF CA; a reader or card without one answers
# 6E 00 / 6D 00 (class / instruction not supported). Answers longer than 256
# bytes may arrive in chunks announced by 61 XX and fetched with GET RESPONSE.
SAM_FRAME_CLA = 0xFF
SAM_FRAME_INS = 0xF0
GET_RESPONSE = [0x00, 0xC0, 0x00, 0x00]
_NOT_SUPPORTED = {(0x6E, 0x00), (0x6D, 0x00)}


class PcscTransport:
    """A PC/SC reader through pyscard: presence, chip serial and, if it has one, the SAM."""

    def __init__(self, reader: str | None = None, *, sam: bool = True, scard=None):
        self._wanted = reader or None
        self._sam = sam
        self._scard_module = scard
        self._context = None
        self._reader = None

    @property
    def _scard(self):
        if self._scard_module is None:
            try:
                from smartcard import scard
            except ImportError as exc:
                raise TransportError(
                    "pyscard is not installed: pip install -r reader_agent/requirements.txt"
                ) from exc
            self._scard_module = scard
        return self._scard_module

    def _check(self, hresult: int, what: str) -> None:
        sc = self._scard
        if hresult != sc.SCARD_S_SUCCESS:
            # The service or reader went away: start from a fresh context next poll.
            self.close()
            raise TransportError(f"{what}: {sc.SCardGetErrorMessage(hresult)}")

    def _reader_name(self) -> str:
        sc = self._scard
        if self._context is None:
            hresult, self._context = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
            if hresult != sc.SCARD_S_SUCCESS:
                self._context = None
                raise TransportError(f"PC/SC unavailable: {sc.SCardGetErrorMessage(hresult)}")
        if self._reader is None:
            hresult, readers = sc.SCardListReaders(self._context, [])
            self._check(hresult, "list readers")
            matching = [name for name in readers if self._wanted is None or self._wanted in name]
            if not matching:
                raise TransportError(f"no PC/SC reader matching {self._wanted!r} among {readers}")
            self._reader = matching[0]
        return self._reader

    def card_present(self) -> bool:
        sc = self._scard
        reader = self._reader_name()
        hresult, states = sc.SCardGetStatusChange(self._context, 0, [(reader, sc.SCARD_STATE_UNAWARE)])
        self._check(hresult, f"status of {reader}")
        state = states[0][1]
        return bool(state & sc.SCARD_STATE_PRESENT) and not state & sc.SCARD_STATE_MUTE

    def _connect(self):
        sc = self._scard
        reader = self._reader_name()
        hresult, card, protocol = sc.SCardConnect(
            self._context, reader, sc.SCARD_SHARE_SHARED, sc.SCARD_PROTOCOL_T0 | sc.SCARD_PROTOCOL_T1
        )
        if hresult in (sc.SCARD_E_NO_SMARTCARD, sc.SCARD_W_REMOVED_CARD, sc.SCARD_W_UNRESPONSIVE_CARD):
            return None
        self._check(hresult, f"connect to {reader}")
        return card, protocol

    def _transmit(self, connection, apdu: list[int]) -> tuple[bytes, int, int]:
        sc = self._scard
        card, protocol = connection
        data = b""
        while True:
            hresult, response = sc.SCardTransmit(card, protocol, apdu)
            if hresult != sc.SCARD_S_SUCCESS:
                raise TransportError(f"transmit: {sc.SCardGetErrorMessage(hresult)}")
            if len(response) < 2:
                raise TransportError("card answered without status words")
            data += bytes(response[:-2])
            sw1, sw2 = response[-2], response[-1]
            if sw1 != 0x61:
                return data, sw1, sw2
            apdu = GET_RESPONSE + [sw2]

    def _serial(self, connection) -> str | None:
        data, sw1, sw2 = self._transmit(connection, GET_CHIP_SERIAL)
        return data.hex().upper() if (sw1, sw2) == (0x90, 0x00) and data else None

    def _sam_exchange(self, connection, frame: bytes) -> bytes:
        apdu = [SAM_FRAME_CLA, SAM_FRAME_INS, 0x00, 0x00, len(frame), *frame, 0x00]
        data, sw1, sw2 = self._transmit(connection, apdu)
        if (sw1, sw2) in _NOT_SUPPORTED:
            raise SamUnavailable(f"reader {self._reader} carries no ID-card SAM ({sw1:02X} {sw2:02X})")
        if (sw1, sw2) != (0x90, 0x00):
            raise TransportError(f"SAM frame APDU failed: {sw1:02X} {sw2:02X}")
        return data

    def _disconnect(self, connection) -> None:
        sc = self._scard
        sc.SCardDisconnect(connection[0], sc.SCARD_LEAVE_CARD)

    def chip_serial(self) -> str | None:
        connection = self._connect()
        if connection is None:
            return None
        try:
            return self._serial(connection)
        finally:
            self._disconnect(connection)

    def read_card(self) -> CardRead | None:
        connection = self._connect()
        if connection is None:
            return None
        try:
            serial = self._serial(connection)
            if not self._sam:
                return CardRead(text=None, photo=None, chip_serial=serial)
            session = SamSession(lambda frame: self._sam_exchange(connection, frame))
            if not session.find_card() or session.select_card() is None:
                return None
            info = session.read_base_info()
            if info is None:
                return None
            return CardRead(text=info[0], photo=info[1], chip_serial=serial)
        finally:
            self._disconnect(connection)

    def close(self) -> None:
        context, self._context, self._reader = self._context, None, None
        if context is not None:
            try:
                self._scard.SCardReleaseContext(context)
            except Exception:
                pass


class ReplayFileError(ValueError):
    """A replay file that cannot be used."""


@dataclass(frozen=True)
class _Scheduled:
    appears: float
    leaves: float
    read: CardRead


class ReplayTransport:
    """Replays recorded reads for demos: each card appears after `delay` seconds
    with no card and stays for `hold` seconds.

    The file is JSON Lines (or one JSON array) of records:
    {"delay": 1.0, "hold": 3.0, "text": base64, "photo": base64,
     "photo_png": base64 or null, "chip_serial": "..." or null}
    """

    def __init__(self, path: str | Path, *, loop: bool = False, clock: Callable[[], float] = time.monotonic):
        self._schedule = _schedule(load_replay(path))
        self._loop = loop
        self._clock = clock
        self._start: float | None = None

    def _current(self) -> CardRead | None:
        now = self._clock()
        if self._start is None:
            self._start = now
        elapsed = now - self._start
        if not self._schedule:
            return None
        cycle = self._schedule[-1].leaves
        if self._loop and cycle > 0:
            elapsed %= cycle
        for item in self._schedule:
            if item.appears <= elapsed < item.leaves:
                return item.read
        return None

    def card_present(self) -> bool:
        return self._current() is not None

    def chip_serial(self) -> str | None:
        read = self._current()
        return read.chip_serial if read else None

    def read_card(self) -> CardRead | None:
        return self._current()

    def close(self) -> None:
        pass


def _schedule(records: list[tuple[float, float, CardRead]]) -> list[_Scheduled]:
    schedule, at = [], 0.0
    for delay, hold, read in records:
        schedule.append(_Scheduled(at + delay, at + delay + hold, read))
        at += delay + hold
    return schedule


def load_replay(path: str | Path) -> list[tuple[float, float, CardRead]]:
    """Read a replay file into (delay, hold, CardRead) triples."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayFileError(f"cannot read replay file {path}: {exc}") from exc
    if content.lstrip().startswith("["):
        try:
            items = list(enumerate(json.loads(content), start=1))
        except json.JSONDecodeError as exc:
            raise ReplayFileError(f"{path}: {exc}") from exc
    else:
        items = []
        for number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ReplayFileError(f"{path}:{number}: {exc}") from exc
    return [_record(path, number, item) for number, item in items]


def _record(path, number: int, item) -> tuple[float, float, CardRead]:
    where = f"{path}:{number}"
    if not isinstance(item, dict):
        raise ReplayFileError(f"{where}: a record must be a JSON object")

    def blob(key: str, required: bool) -> bytes | None:
        value = item.get(key)
        if value is None:
            if required:
                raise ReplayFileError(f"{where}: {key} is missing")
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError) as exc:
            raise ReplayFileError(f"{where}: {key} is not base64") from exc

    try:
        delay = float(item.get("delay", 1.0))
        hold = float(item.get("hold", 3.0))
    except (TypeError, ValueError) as exc:
        raise ReplayFileError(f"{where}: delay and hold are seconds") from exc
    if delay < 0 or hold <= 0:
        raise ReplayFileError(f"{where}: delay must be >= 0 and hold > 0")
    chip_serial = item.get("chip_serial")
    read = CardRead(
        text=blob("text", required=True),
        photo=blob("photo", required=False),
        chip_serial=str(chip_serial) if chip_serial is not None else None,
        photo_png=blob("photo_png", required=False),
    )
    return delay, hold, read


def replay_record(read: CardRead, *, delay: float = 1.0, hold: float = 3.0) -> dict:
    """The replay-file record for a read (one line of a JSON Lines file)."""

    def b64(data: bytes | None) -> str | None:
        return base64.b64encode(data).decode("ascii") if data is not None else None

    return {
        "delay": delay,
        "hold": hold,
        "text": b64(read.text),
        "photo": b64(read.photo),
        "photo_png": b64(read.photo_png),
        "chip_serial": read.chip_serial,
    }
