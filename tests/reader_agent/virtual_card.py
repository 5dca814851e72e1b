"""A virtual ID card for vsmartcard's vpcd: answers GET DATA (FF CA) and SAM frames in FF F0 APDUs.

Run as `python -m tests.reader_agent.virtual_card --port P --card FILE` from the
repository root; it connects to vpcd on 127.0.0.1:P (pcscd's side listens) and
serves until the connection closes or it is terminated, which pcscd sees as
the card being removed.

vpcd protocol (vsmartcard virtualsmartcard/src/vpcd/vpcd.c): every message
is a 2-byte big-endian length and a payload. A 1-byte payload is a control
code (0 power off, 1 power on, 2 reset, 4 ask for the ATR, answered with the
ATR); anything longer is a command APDU, answered with the response APDU.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import struct
import sys
import time

from tests.reader_agent.fake_sam import FakeSam

# T=1 only, no historical bytes, with its check byte.
ATR = bytes.fromhex("3B80800101")
_CTRL_OFF, _CTRL_ON, _CTRL_RESET, _CTRL_ATR = 0, 1, 2, 4
SW_OK = b"\x90\x00"


class CardApplet:
    """What the card (with the reader's SAM behind FF F0) answers to each APDU."""

    def __init__(self, sam: FakeSam, chip_serial: bytes, *, chunk: int = 256):
        self.sam = sam
        self.chip_serial = chip_serial
        self.chunk = chunk
        self.apdus: list[bytes] = []
        self._remaining = b""

    def reset(self) -> None:
        self._remaining = b""

    def process(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins = apdu[0], apdu[1]
        if (cla, ins) == (0xFF, 0xCA):
            return self.chip_serial + SW_OK
        if (cla, ins) == (0xFF, 0xF0):
            if len(apdu) < 6 or len(apdu) < 5 + apdu[4]:
                return b"\x67\x00"
            return self._chunked(self.sam.handle(apdu[5:5 + apdu[4]]))
        if (cla, ins) == (0x00, 0xC0):
            return self._chunked(self._remaining)
        return b"\x6D\x00"

    def _chunked(self, data: bytes) -> bytes:
        # Short APDUs carry at most 256 bytes: announce the rest with 61 XX.
        if len(data) <= self.chunk:
            self._remaining = b""
            return data + SW_OK
        head, self._remaining = data[:self.chunk], data[self.chunk:]
        return head + bytes([0x61, min(len(self._remaining), 256) & 0xFF])


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(port: int, applet: CardApplet, *, connect_timeout: float = 15.0) -> None:
    """Connect to vpcd and answer it until the connection closes."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    sock.settimeout(None)
    print("connected", flush=True)
    with sock:
        while True:
            header = _recv_exact(sock, 2)
            if header is None:
                return
            (length,) = struct.unpack(">H", header)
            message = _recv_exact(sock, length) if length else b""
            if message is None:
                return
            if len(message) == 1:
                if message[0] == _CTRL_ATR:
                    sock.sendall(struct.pack(">H", len(ATR)) + ATR)
                elif message[0] in (_CTRL_OFF, _CTRL_ON, _CTRL_RESET):
                    applet.reset()
                continue
            answer = applet.process(message)
            sock.sendall(struct.pack(">H", len(answer)) + answer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--card", required=True, help='JSON: {"text": b64, "photo": b64, "chip_serial": hex}')
    args = parser.parse_args(argv)
    with open(args.card, encoding="utf-8") as fh:
        card = json.load(fh)
    sam = FakeSam(base64.b64decode(card["text"]), base64.b64decode(card["photo"]))
    serve(args.port, CardApplet(sam, bytes.fromhex(card["chip_serial"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
