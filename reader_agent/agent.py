"""Poll a card reader and post each newly presented card to the server, signed."""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone

from reader_agent.decode import MalformedBlock, decode_text_block
from reader_agent.signing import sign
from reader_agent.transports import CardRead, SamUnavailable, Transport, TransportError

log = logging.getLogger("reader_agent")

# The SAM and the card need time between commands; faster polling only makes
# reads fail and keeps the RF field on.
MIN_INTERVAL = 0.3
DEFAULT_INTERVAL = 0.5
READS_PATH = "/api/reader/reads"
MAX_POST_ATTEMPTS = 6


class PostError(Exception):
    """The server did not take a read."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Poster:
    """Posts reads to <server>/api/reader/reads with the device's HMAC signature."""

    def __init__(
        self,
        server: str,
        device_id: str,
        secret: str | bytes,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        allow_insecure_http: bool = False,
    ):
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"server must be an http(s) URL, got {server!r}")
        # Reads carry names, ID numbers and photos: plain HTTP only on this machine.
        if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
            raise ValueError(f"refusing to send ID-card data over plain HTTP to {parts.hostname}")
        if not device_id:
            raise ValueError("device id is empty")
        if not secret:
            raise ValueError("device secret is empty")
        self.url = server.rstrip("/") + READS_PATH
        self.device_id = device_id
        self._secret = secret
        self._timeout = timeout
        self._clock = clock
        self._opener = urllib.request.build_opener()

    def post(self, payload: dict) -> dict:
        """Send one payload; return the server's JSON answer or raise PostError."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Reader-Device": self.device_id,
                "X-Reader-Timestamp": timestamp,
                "X-Reader-Signature": sign(self._secret, timestamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            raise PostError(
                f"server refused the read: HTTP {exc.code} {exc.reason}",
                status=exc.code,
                retryable=exc.code >= 500 or exc.code == 429,
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PostError(f"cannot reach {self.url}: {reason}", retryable=True) from None
        try:
            return json.loads(answer) if answer.strip() else {}
        except ValueError:
            return {}


def build_payload(device_id: str, read: CardRead, fields: dict, read_at: datetime) -> dict:
    """The JSON body of a post."""
    return {
        "device_id": device_id,
        # Milliseconds keep two reads' bodies (and so signatures) distinct.
        "read_at": read_at.isoformat(timespec="milliseconds"),
        "fields": fields,
        "photo_raw": base64.b64encode(read.photo).decode("ascii") if read.photo else None,
        # WLT is proprietary with no open decoder: a PNG only when the transport had one.
        "photo_png": base64.b64encode(read.photo_png).decode("ascii") if read.photo_png else None,
        "chip_serial": read.chip_serial,
    }


def mask_id(number: str | None) -> str:
    """An ID number fit for a log line: only the last four characters."""
    if not number:
        return "?"
    return "*" * max(len(number) - 4, 0) + number[-4:]


class Agent:
    """The polling loop: each card is read and posted once, until it is taken away."""

    def __init__(
        self,
        transport: Transport,
        poster: Poster,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        max_post_attempts: int = MAX_POST_ATTEMPTS,
    ):
        if interval < MIN_INTERVAL:
            raise ValueError(f"poll interval must be at least {MIN_INTERVAL} s, got {interval}")
        self.transport = transport
        self.poster = poster
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._max_post_attempts = max_post_attempts
        self.current: str | None = None  # the card on the reader that was already handled
        self._pending: dict | None = None
        self._attempts = 0
        self._next_attempt = 0.0
        self._last_error: str | None = None

    def run(self, *, max_polls: int | None = None, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Poll until should_stop() or max_polls, keeping at least `interval` between poll starts."""
        polls = 0
        while not should_stop():
            started = self._clock()
            self.poll_once()
            polls += 1
            if max_polls is not None and polls >= max_polls:
                return
            remaining = self.interval - (self._clock() - started)
            if remaining > 0:
                self._sleep(remaining)

    def poll_once(self) -> None:
        """One poll: notice removal, read a newly placed card, post what is pending."""
        try:
            present = self.transport.card_present()
            if not present:
                if self.current is not None:
                    log.info("card %s removed", self.current)
                self.current = None
            elif self.current is None:
                self._read()
            self._clear_error()
        except TransportError as exc:
            self._report(exc)
        self._post_pending()

    def _read(self) -> None:
        try:
            read = self.transport.read_card()
        except SamUnavailable as exc:
            # Retrying cannot help until another card (or reader) comes along.
            self.current = "no-sam"
            log.warning("%s: only the chip serial can be read, nothing posted", exc)
            return
        if read is None:
            return  # the card left mid-read; the next poll tries again
        if read.text is None:
            self.current = read.chip_serial or "no-sam"
            log.warning("reader gave chip serial %s but no text block: nothing posted", read.chip_serial)
            return
        try:
            fields = decode_text_block(read.text)
        except MalformedBlock as exc:
            # The same card gives the same bytes: do not read it again until it is removed.
            self.current = read.chip_serial or "malformed"
            log.error("card %s: cannot decode its text block: %s", self.current, exc.message)
            return
        self.current = read.chip_serial or fields["id_number"]
        if self._pending is not None:
            log.error("dropping the unsent read of an earlier card for the new one")
        self._pending = build_payload(self.poster.device_id, read, fields, self._now())
        self._attempts = 0
        self._next_attempt = 0.0
        log.info("read %s card %s", fields["card_type"], mask_id(fields["id_number"]))

    def _post_pending(self) -> None:
        if self._pending is None or self._clock() < self._next_attempt:
            return
        self._attempts += 1
        try:
            self.poster.post(self._pending)
        except PostError as exc:
            if exc.retryable and self._attempts < self._max_post_attempts:
                # Backing off at least a second also gives each retry a new
                # timestamp, so the server never sees the same signature twice.
                delay = min(2.0 ** (self._attempts - 1), 30.0)
                self._next_attempt = self._clock() + delay
                log.warning("post failed (attempt %d), retrying in %.0f s: %s", self._attempts, delay, exc)
            else:
                log.error("read not posted after %d attempt(s): %s", self._attempts, exc)
                self._pending = None
            return
        log.info("posted read of %s", mask_id(self._pending["fields"]["id_number"]))
        self._pending = None

    def _report(self, exc: Exception) -> None:
        # A reader that is unplugged fails every poll: say so once, not twice a second.
        message = str(exc)
        if message != self._last_error:
            log.warning("reader: %s", message)
            self._last_error = message
        else:
            log.debug("reader: %s", message)

    def _clear_error(self) -> None:
        if self._last_error is not None:
            log.info("reader is back")
            self._last_error = None
