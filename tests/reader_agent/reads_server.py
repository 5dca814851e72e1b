"""A stand-in for the server's /api/reader/reads on loopback: device registry, signatures, replay memory."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reader_agent.agent import READS_PATH
from reader_agent.signing import MAX_SKEW_SECONDS, verify

log = logging.getLogger("tests.reads_server")


@dataclass
class PairedDevice:
    """A reader an administrator paired with a branch."""

    secret: str
    branch: str
    revoked: bool = False


class ReadsServer:
    def __init__(self, devices: dict[str, PairedDevice], *, now: Callable[[], float] = time.time):
        self.devices = devices
        self.now = now
        self.accepted: list[dict] = []
        self.refused: list[tuple[str | None, str]] = []
        # (device, signature) -> when it was accepted. A signature stays valid
        # for MAX_SKEW_SECONDS either side of its timestamp, so remembering it
        # for twice that is enough to refuse every replay.
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.url: str | None = None

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if path != READS_PATH:
            return 404, {"error": "not found"}
        device_id = headers.get("X-Reader-Device")
        timestamp = headers.get("X-Reader-Timestamp", "")
        signature = headers.get("X-Reader-Signature", "")
        device = self.devices.get(device_id)
        if device is None:
            return self._refuse(device_id, "unknown device")
        if device.revoked:
            return self._refuse(device_id, "revoked device")
        now = self.now()
        if not verify(device.secret, timestamp, body, signature, now):
            stale = timestamp.isdigit() and abs(now - int(timestamp)) > MAX_SKEW_SECONDS
            return self._refuse(device_id, "stale timestamp" if stale else "bad signature")
        with self._lock:
            self._seen = {key: at for key, at in self._seen.items() if now - at <= 2 * MAX_SKEW_SECONDS}
            replayed = (device_id, signature) in self._seen
            self._seen[(device_id, signature)] = now
        if replayed:
            return self._refuse(device_id, "replayed signature")
        payload = json.loads(body)
        if payload.get("device_id") != device_id:
            return self._refuse(device_id, "device id in body does not match header")
        with self._lock:
            self.accepted.append({"device": device_id, "branch": device.branch, "payload": payload})
            return 201, {"id": len(self.accepted)}

    def _refuse(self, device_id: str | None, reason: str) -> tuple[int, dict]:
        with self._lock:
            self.refused.append((device_id, reason))
        log.warning("refused reader post from %s: %s", device_id, reason)
        return 401, {"error": "unauthorised"}

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = server.handle(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def wait_for_accepted(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.05)
        raise AssertionError(f"server accepted {len(self.accepted)} of {count} reads; refused {self.refused}")
