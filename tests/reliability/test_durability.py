"""Durable commits: SQLite synchronous=FULL on every connection, PostgreSQL fsync/synchronous_commit checked,
stored files synced to disk before the row that names them commits."""
import os

import pytest
from sqlalchemy import event, text

from app import ConfigurationError, create_app
from core import db as core_db
from core.extensions import db
from core.storage import LocalStore
from tests.requests.helpers import login_as
from tests.requests.test_archive import SEEDED_NO, png_bytes, upload

KEYS = {"SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key"}
on_postgresql = pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
                                   reason="needs the PostgreSQL test cluster (TEST_DATABASE_URL)")


def _sqlite_app(tmp_path, **config):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/durable.sqlite3", **KEYS,
                       "FILE_STORE": str(tmp_path / "files"), **config})


def test_every_sqlite_connection_is_in_wal_with_synchronous_full(tmp_path):
    app = _sqlite_app(tmp_path)
    with app.app_context():
        for _ in range(3):  # new connections each time, not one reused
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            db.engine.dispose()


def test_a_sqlite_connection_that_does_not_keep_full_is_never_handed_out(tmp_path, monkeypatch):
    app = _sqlite_app(tmp_path)
    # As if the pragma had not taken (a read-only file, a SQLite built without it): the read-back differs.
    monkeypatch.setattr(core_db, "SQLITE_SYNCHRONOUS_FULL", 3)
    with app.app_context():
        db.engine.dispose()
        with pytest.raises(core_db.DatabaseNotDurable, match="synchronous=2, not FULL"):
            db.engine.connect()


@pytest.mark.parametrize("settings, named", [
    ({"fsync": "off", "synchronous_commit": "on"}, "fsync=off"),
    ({"fsync": "on", "synchronous_commit": "off"}, "synchronous_commit=off"),
])
def test_postgresql_without_durable_commits_refuses_to_start(monkeypatch, settings, named):
    class FakeRaw:
        driver_connection = None

        def close(self):
            pass

    monkeypatch.setattr(core_db, "postgresql_durability", lambda _connection: settings)
    monkeypatch.setattr("sqlalchemy.engine.Engine.raw_connection", lambda _engine: FakeRaw())
    with pytest.raises(ConfigurationError, match=f"refusing to start: .*{named}"):
        create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://kyc@/kyc?host=/nonexistent", **KEYS})


def test_durable_postgresql_settings_pass():
    assert core_db.durability_problems({"fsync": "on", "synchronous_commit": "on"}) == []
    assert core_db.durability_problems({"fsync": "on", "synchronous_commit": "remote_apply"}) == []
    assert core_db.durability_problems({"fsync": "on", "synchronous_commit": "off"}) == [
        "synchronous_commit=off (must be local or on or remote_apply or remote_write)"]


def test_the_tests_own_apps_skip_the_check_and_a_production_start_does_not(app, monkeypatch):
    monkeypatch.setattr(core_db, "postgresql_durability", lambda _connection: {"fsync": "off",
                                                                                 "synchronous_commit": "off"})
    monkeypatch.setattr("sqlalchemy.engine.Engine.raw_connection", lambda _engine: type("R", (), {
        "driver_connection": None, "close": lambda self: None})())
    url = "postgresql+psycopg://kyc@/kyc?host=/nonexistent"
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, **KEYS})  # no refusal
    monkeypatch.setenv("REQUIRE_DURABLE_DATABASE", "0")
    create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})  # explicitly unchecked: a throw-away cluster
    monkeypatch.delenv("REQUIRE_DURABLE_DATABASE")
    with pytest.raises(ConfigurationError):
        create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})


@on_postgresql
def test_on_postgresql_settings_of_the_role_and_database_are_seen_on_every_connection(app):
    """The test cluster runs with fsync off; synchronous_commit set per role or database is read per connection."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        database = db.session.execute(text("SELECT current_database()")).scalar()
        role = db.session.execute(text("SELECT current_user")).scalar()
        db.session.rollback()
        with db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            # The cluster says off; the database's own setting wins over it.
            connection.exec_driver_sql(f'ALTER DATABASE "{database}" SET synchronous_commit = on')
    try:
        with pytest.raises(ConfigurationError) as refused:
            create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})
        assert "fsync=off" in str(refused.value) and "synchronous_commit" not in str(refused.value)
        with app.app_context(), db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f'ALTER DATABASE "{database}" SET synchronous_commit = off')
        with pytest.raises(ConfigurationError, match="fsync=off .*synchronous_commit=off"):
            create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})
        # A connection opened later (the app started while the setting was on) is refused too.
        unchecked = create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS, "TESTING": True})
        with unchecked.app_context():
            core_db.configure_engine(db.engine, 1000, require_durable=True)
            db.engine.dispose()
            with pytest.raises(core_db.DatabaseNotDurable, match="synchronous_commit=off"):
                db.engine.connect()
    finally:
        with app.app_context(), db.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f'ALTER ROLE "{role}" RESET synchronous_commit')
            connection.exec_driver_sql(f'ALTER DATABASE "{database}" RESET synchronous_commit')


# --- files ---------------------------------------------------------------------------------------

def test_a_stored_file_and_its_folder_are_synced_before_the_row_naming_it_commits(app, tmp_path, monkeypatch):
    store = LocalStore(str(tmp_path / "files"))
    monkeypatch.setitem(app.extensions, "file_store", store)
    happened = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        happened.append(("fsync", target))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)

    def committed(_connection):
        happened.append(("commit", None))

    with app.app_context():
        event.listen(db.engine, "commit", committed)
    try:
        archivist = login_as(app, "archivist")
        happened.clear()
        data = png_bytes()
        assert upload(archivist, SEEDED_NO, data).status_code == 303
    finally:
        with app.app_context():
            event.remove(db.engine, "commit", committed)
    [digest] = list(store.digests())
    kept = os.path.join(store.root, digest[:2], digest[2:4], digest)
    first_commit = happened.index(("commit", None))
    synced = [target for kind, target in happened[:first_commit] if kind == "fsync"]
    assert os.path.dirname(kept) in synced  # the folder entry of the renamed file
    assert any(t.startswith(store.temp_dir) or t == kept for t in synced)  # the content, before the rename
    assert os.path.dirname(os.path.dirname(kept)) in synced  # a folder created for it, in its parent
