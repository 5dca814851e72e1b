"""An app on a database migrated only up to an older revision, with the rows of that time in it."""
from typing import Callable

import sqlalchemy as sa

from app import create_app
from core.extensions import db


def app_migrated_to(tmp_path, revision: str, fill: Callable | None = None):
    """A fresh SQLite database upgraded to `revision`; `fill(conn)` adds the old rows in one transaction."""
    from flask_migrate import upgrade

    old = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.sqlite3",
                      "SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key"})
    with old.app_context():
        upgrade(revision=revision)
        if fill is not None:
            with db.engine.begin() as conn:
                fill(conn)
    return old


def inserter(conn) -> Callable:
    """`add(table, column=value, ...)`: one row inserted by plain SQL, as the old schema had it."""
    def add(table, **values):
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})"),
                     values)
    return add
