"""Database engine tuning: SQLite in WAL mode with immediate write transactions."""
from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Make SQLite behave under concurrent writers; leave other databases alone."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A deferred transaction that later writes fails at once with "database is
        # locked" when another writer got in first; IMMEDIATE takes the write lock up
        # front, so a second writer waits for busy_timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_url_for(instance_path: str) -> str:
    """Return the default SQLite URL, a file under the instance folder."""
    return f"sqlite:///{instance_path}/kyc.sqlite3"
