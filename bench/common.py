"""What the benchmarks share: a fresh database built by the migrations, with the demo data."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fresh_app(url: str | None = None, password_hash: str | None = None, **config):
    """An app on a new database: a temporary SQLite file unless `url` or DATABASE_URL names one (wiped).

    The schema comes from the migrations and the demo data from seed_demo; `config` is added to the
    app's (keys default to the benchmarks' own).
    """
    from sqlalchemy import text

    from app import create_app
    from blueprints.home.demo import seed_demo
    from core.extensions import db

    where = tempfile.mkdtemp(prefix="kyc-bench-")
    url = url or os.environ.get("DATABASE_URL") or f"sqlite:///{where}/bench.sqlite3"
    # Files in a folder of the run's own, not the instance folder's store.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "DATA_KEY": "bench",
                      "FILE_STORE": os.path.join(where, "files"), **config})
    with app.app_context():
        from flask_migrate import upgrade

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        seed_demo(password_hash=password_hash)
        db.session.commit()
    return app


def wait_until_serving(server, port: int, what: str, seconds: float = 90):
    """Wait for `server` (a Popen) to answer /health on the loopback `port`; exit with its stderr if it dies."""
    import http.client
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except (OSError, http.client.HTTPException):
            if server.poll() is not None:
                raise SystemExit(server.stderr.read().decode()[-3000:])
            time.sleep(0.3)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s")
