"""`flask backup` and `flask restore`: a snapshot restored into an empty place holds every row and file."""
import hashlib
import json
import os
import uuid

import pytest
from sqlalchemy import inspect, select, text

from app import create_app
from blueprints.archive.models import ArchiveScan, Dossier
from core import files
from core.extensions import db
from core.storage import LocalStore
from tests.archive.conftest import activate_customer
from tests.conftest import Auth, TEST_HASH_METHOD
from tests.requests.helpers import login_as
from tests.requests.test_archive import file_url, give_purpose, png_bytes, upload

KEYS = {"SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key", "PASSWORD_HASH_METHOD": TEST_HASH_METHOD}
SKIP_COUNTS = {"alembic_version"}


@pytest.fixture
def seeded(app, auth, file_store):
    """An active customer with an uploaded scan and a generated dossier; (customer_no, {sha256: plaintext})."""
    auth.login()
    customer_no = activate_customer(app, auth)
    archivist = login_as(app, "archivist")
    scan = png_bytes(40, 30)
    assert upload(archivist, customer_no, scan, "正面.png").status_code == 303
    assert give_purpose(archivist, customer_no).status_code in (200, 303)
    assert archivist.post(f"{file_url(customer_no)}/dossiers").status_code in (200, 303)
    with app.app_context():
        shas = list(db.session.scalars(select(ArchiveScan.sha256))) + list(db.session.scalars(select(Dossier.sha256)))
        assert len(shas) == 2, "a scan and a dossier"
        plain = {sha: files.read(sha) for sha in set(db.session.scalars(select(ArchiveScan.sha256)))}
        plain.update({sha: files.read(sha) for sha in db.session.scalars(select(Dossier.sha256))})
    assert plain[hashlib.sha256(scan).hexdigest()] == scan
    return customer_no, plain


def _counts(app) -> dict[str, int]:
    with app.app_context():
        names = [n for n in inspect(db.engine).get_table_names() if n not in SKIP_COUNTS]
        return {name: db.session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names}


@pytest.fixture
def empty_place(app, tmp_path):
    """A database and a file store that hold nothing: a new SQLite file, or a new PostgreSQL database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/restored.sqlite3", str(tmp_path / "restored-files")
        return
    name = f"kyc_restore_{uuid.uuid4().hex[:8]}"
    with app.app_context(), db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f'CREATE DATABASE "{name}"')
    from sqlalchemy.engine import make_url

    yield make_url(url).set(database=name).render_as_string(hide_password=False), str(tmp_path / "restored-files")
    with app.app_context(), db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _app_on(url: str, store: str):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "FILE_STORE": store, **KEYS})


def test_a_backup_restored_into_an_empty_place_has_every_row_and_readable_file(app, seeded, empty_place, tmp_path):
    customer_no, plain = seeded
    before = _counts(app)
    dest = tmp_path / "backup"

    made = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert made.exit_code == 0, made.output
    manifest = json.loads((dest / "manifest.json").read_text())
    assert set(manifest["files"]["copied"]) >= set(plain)
    assert os.stat(dest).st_mode & 0o777 == 0o700
    for digest in plain:  # copied as stored: encrypted, never the plaintext
        copied = (dest / "files" / digest[:2] / digest[2:4] / digest).read_bytes()
        assert copied.startswith(files.MAGIC) and plain[digest] not in copied

    url, store = empty_place
    restored = _app_on(url, store)
    done = restored.test_cli_runner().invoke(args=["restore", str(dest)])
    assert done.exit_code == 0, done.output

    restored = _app_on(url, store)  # opened afresh on what was restored
    assert _counts(restored) == before
    with restored.app_context():
        for digest, content in plain.items():
            assert files.read(digest) == content  # decrypts, and matches its SHA-256
        scan_id = db.session.scalar(select(ArchiveScan.id))
        dossier_id = db.session.scalar(select(Dossier.id))
    archivist = Auth(restored.test_client())
    assert archivist.login("archivist").status_code == 303
    give_purpose(archivist, customer_no)
    scan = archivist.get(f"/archive/scans/{scan_id}")
    assert scan.status_code == 200 and scan.data in plain.values()
    dossier = archivist.get(f"/archive/dossiers/{dossier_id}/download")
    assert dossier.status_code == 200 and dossier.data.startswith(b"%PDF")
    with restored.app_context():
        db.engine.dispose()


def test_restore_refuses_a_target_that_is_not_empty(app, seeded, tmp_path):
    dest = tmp_path / "backup"
    assert app.test_cli_runner().invoke(args=["backup", str(dest)]).exit_code == 0
    before = _counts(app)

    refused = app.test_cli_runner().invoke(args=["restore", str(dest)])

    assert refused.exit_code != 0 and "not empty" in refused.output and "--force" in refused.output
    assert _counts(app) == before


def test_a_backup_with_an_altered_file_is_refused_before_anything_is_restored(app, seeded, empty_place, tmp_path):
    _, plain = seeded
    dest = tmp_path / "backup"
    assert app.test_cli_runner().invoke(args=["backup", str(dest)]).exit_code == 0
    digest = next(iter(plain))
    blob = dest / "files" / digest[:2] / digest[2:4] / digest
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))

    url, store = empty_place
    restored = _app_on(url, store)
    refused = restored.test_cli_runner().invoke(args=["restore", str(dest)])

    assert refused.exit_code != 0 and "altered" in refused.output
    with restored.app_context():
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()
    assert not os.path.exists(store) or not list(LocalStore(store).digests())


def test_backup_refuses_a_folder_that_holds_something(app, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "taken")])
    assert result.exit_code != 0 and "not an empty folder" in result.output


def test_a_backup_taken_while_clerks_write_is_one_consistent_state(app, file_store, tmp_path):
    import sqlite3
    import threading
    import time

    clerk = Auth(app.test_client())
    clerk.login()
    stop, written = threading.Event(), []

    def write():
        while not stop.is_set() and len(written) < 200:
            token = f"online-{len(written)}"
            assert clerk.post("/opening/new", {"channel": "onsite", "customer_type": "individual",
                                               "client_token": token}).status_code == 303
            written.append(token)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 3 and writer.is_alive():
            time.sleep(0.01)
        made = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "online")])
    finally:
        stop.set()
        writer.join(timeout=60)
    assert made.exit_code == 0, made.output
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return  # pg_dump's snapshot is PostgreSQL's own; restored above
    with sqlite3.connect(tmp_path / "online" / "database.sqlite3") as copy:
        drafts = copy.execute("SELECT count(*) FROM application WHERE client_token LIKE 'online-%'").fetchone()[0]
        steps = copy.execute("SELECT count(*) FROM application_step WHERE application_id IN "
                             "(SELECT id FROM application WHERE client_token LIKE 'online-%')").fetchone()[0]
    assert 3 <= drafts <= len(written) and steps == drafts  # whole drafts only, none half-copied
