"""Through a real PC/SC stack: pcscd with vsmartcard's vpcd reader driver and a virtual ID card.

pcscd runs in the foreground in its own mount namespace, with /run/pcscd
bound to a temporary folder, so it neither needs nor disturbs a system
pcscd; pyscard finds its socket through PCSCLITE_CSOCK_NAME. The reader
driver comes from a temporary reader.conf on a free port, where the
virtual card (tests/reader_agent/virtual_card.py, a separate process)
connects; ending that process is taking the card away.

Needs Debian's pcscd and vsmartcard-vpcd and pyscard. Without them the test
skips only when not running as root; as root (scripts/test) it must run.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from reader_agent.decode import decode_text_block
from reader_agent.transports import PcscTransport
from tests.reader_agent.conftest import DEVICE_ID, DEVICE_SECRET
from tests.reader_agent.fixtures import PHOTO, foreign_block, hmt_block, resident_block

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PACKAGES = ("pcscd", "vsmartcard-vpcd")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER = "Virtual PCD 00 00"
IS_ROOT = os.geteuid() == 0

# pcscd's IPC folder is compiled in (/run/pcscd): give it a private one.
PCSCD_SCRIPT = (
    'mount -t tmpfs tmpfs /run && mkdir /run/pcscd && mount --bind "$1" /run/pcscd '
    '&& exec "$2" --foreground --info --config "$1/reader.conf"'
)


def _unavailable(reason: str) -> None:
    if IS_ROOT:
        pytest.fail(f"{reason}; scripts/test must install it")
    pytest.skip(f"{reason} (installed by scripts/test, which runs as root)")


def _free_port_pair() -> int:
    # vpcd listens on the configured port and the next one (two slots).
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free pair of ports")


@dataclass
class Pcscd:
    socket: Path
    port: int
    log: Path


@pytest.fixture(scope="module")
def pcscd():
    pcscd_binary = shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.access(p, os.X_OK)), None
    )
    if pcscd_binary is None or not VPCD_DRIVER.exists():
        _unavailable(f"Debian packages {' '.join(DEBIAN_PACKAGES)} are missing")
    if importlib.util.find_spec("smartcard") is None:
        _unavailable("pyscard is missing (pip install -r reader_agent/requirements.txt)")

    # A short path: unix socket names are limited to 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="vpcd-", dir="/tmp"))
    port = _free_port_pair()
    (workdir / "reader.conf").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{port:#06x}\n'
        f"LIBPATH {VPCD_DRIVER}\nCHANNELID {port:#06x}\n",
        encoding="ascii",
    )
    log_path = workdir / "pcscd.log"
    namespace = ["unshare", "--mount"] + ([] if IS_ROOT else ["--map-root-user"])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*namespace, "sh", "-c", PCSCD_SCRIPT, "sh", str(workdir), pcscd_binary],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        sock = workdir / "pcscd.comm"
        deadline = time.monotonic() + 15
        while not sock.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not sock.exists():
            pytest.fail(f"pcscd did not start:\n{log_path.read_text(errors='replace')}")
        # pcsc-lite reads this once per process, at its first call.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PCSCLITE_CSOCK_NAME", str(sock))
            yield Pcscd(socket=sock, port=port, log=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def virtual_card(pcscd: Pcscd, tmp_path: Path, text: bytes, chip_serial: str):
    """A card on the reader for as long as the block runs."""
    card_file = tmp_path / f"card-{chip_serial}.json"
    card_file.write_text(json.dumps({
        "text": base64.b64encode(text).decode(),
        "photo": base64.b64encode(PHOTO).decode(),
        "chip_serial": chip_serial,
    }))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reader_agent.virtual_card", "--port", str(pcscd.port), "--card", str(card_file)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        if line.strip() != "connected":
            process.kill()
            pytest.fail(f"virtual card did not connect: {line!r} {process.stderr.read()}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_pcsc_transport_reads_virtual_cards_through_pcscd(pcscd, tmp_path):
    transport = PcscTransport("Virtual PCD 00 00")
    try:
        empty_at_start = not transport.card_present()

        with virtual_card(pcscd, tmp_path, hmt_block(), "A1B2C3D4"):
            assert wait_until(transport.card_present), pcscd.log.read_text(errors="replace")
            serial = transport.chip_serial()
            first = transport.read_card()
        removed = wait_until(lambda: not transport.card_present())

        with virtual_card(pcscd, tmp_path, foreign_block(), "0F0E0D0C0B0A0908"):
            assert wait_until(transport.card_present)
            second = transport.read_card()
    finally:
        transport.close()

    assert (empty_at_start, serial, removed) == (True, "A1B2C3D4", True)
    assert (first.text, first.photo, first.chip_serial) == (hmt_block(), PHOTO, "A1B2C3D4")
    assert decode_text_block(first.text)["pass_number"] == "H12345678"
    assert (second.text, second.chip_serial) == (foreign_block(), "0F0E0D0C0B0A0908")


def test_agent_posts_a_card_read_through_pcscd(pcscd, tmp_path, reads_server):
    secret_file = tmp_path / "device.secret"
    secret_file.write_text(DEVICE_SECRET, encoding="utf-8")
    secret_file.chmod(0o600)
    agent = subprocess.Popen(
        [sys.executable, "-m", "reader_agent", "run", "--server", reads_server.url, "--device", DEVICE_ID,
         "--secret-file", str(secret_file), "--pcsc", READER, "--interval", "0.3"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ),
    )
    try:
        with virtual_card(pcscd, tmp_path, resident_block(valid_to="长期"), "CAFE0001"):
            [accepted] = reads_server.wait_for_accepted(1)
            time.sleep(1.0)  # several more polls with the card still there
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=10)

    assert len(reads_server.accepted) == 1, "the same card must be posted only once"
    fields = accepted["payload"]["fields"]
    assert (fields["name"], fields["valid_to"], accepted["payload"]["chip_serial"]) == ("王小明", "长期", "CAFE0001")
    assert base64.b64decode(accepted["payload"]["photo_raw"]) == PHOTO
    assert agent.returncode == 0, stderr.decode()
