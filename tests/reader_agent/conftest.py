"""Fixtures for the reader agent: a loopback reads server with paired devices."""
import pytest

from tests.reader_agent.reads_server import PairedDevice, ReadsServer

DEVICE_ID = "reader-bj-001"
DEVICE_SECRET = "0f3c2a9e6b1d4c7f8a5e2d1c0b9a8f7e6d5c4b3a29181716"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback posts must not wander off to a proxy set in the environment."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def reads_server():
    server = ReadsServer({
        DEVICE_ID: PairedDevice(secret=DEVICE_SECRET, branch="北京分公司"),
        "reader-sh-009": PairedDevice(secret="revoked-secret", branch="上海分公司", revoked=True),
    })
    server.start()
    yield server
    server.stop()
