"""scripts/serve: gunicorn, the outbox worker and the job worker side by side, each stopping the others when it ends."""
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> dict[str, int]:
    """The launcher's children by role: "web" (the gunicorn master), "outbox" and "jobs" (the workers)."""
    found = {}
    for line in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        cmdline = Path(f"/proc/{line}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if "outbox-worker" in cmdline:
            found["outbox"] = int(line)
        elif "jobs worker" in cmdline:
            found["jobs"] = int(line)
        elif "gunicorn" in cmdline:
            found["web"] = int(line)
    return found


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("victim", ["outbox", "jobs", "web"])
def test_when_one_process_dies_the_others_are_stopped(app, victim):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="test-secret",
               DATA_KEY="test-data-key", APP_MODE="production", HOST="127.0.0.1", PORT=str(port), REQUIRE_DURABLE_DATABASE="0",
               WEB_CONCURRENCY="1", ACCESS_LOG="/dev/null", JOB_RENDER_PROCESSES="1", SCHEDULE_ENABLED="0")
    launcher = subprocess.Popen(["bash", str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (_serving(port) and len(_children(launcher.pid)) == 3):
            assert launcher.poll() is None, launcher.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.3)
        children = _children(launcher.pid)
        os.kill(children[victim], signal.SIGKILL)
        status = launcher.wait(timeout=45)
        assert status != 0
        for role, survivor in children.items():
            if role != victim:
                assert not Path(f"/proc/{survivor}").exists() or "Z" in Path(f"/proc/{survivor}/stat").read_text().split()[2]
        assert not _serving(port)
        assert "ended with status" in launcher.stderr.read().decode()
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
