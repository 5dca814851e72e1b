"""Keyset paging: every row once, in order, in both directions and on ties; bad cursors start over."""
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select

from core import keyset
from core.extensions import db

metadata = MetaData()
rows = Table("keyset_row", metadata, Column("id", Integer, primary_key=True),
             Column("at", DateTime, nullable=False), Column("tier", Integer, nullable=False),
             Column("label", String(8)))


@pytest.fixture()
def session():
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="unit")
    db.init_app(app)
    with app.app_context():
        metadata.create_all(db.engine)
        start = datetime(2026, 1, 1)
        # Ties on both sort columns, so the id decides.
        db.session.execute(insert(rows), [{"id": i, "at": start + timedelta(hours=i // 3), "tier": i % 2,
                                           "label": f"r{i}"} for i in range(1, 48)])
        yield db.session


def _walk(orders, size):
    seen, cursor, pages = [], None, 0
    while True:
        page = keyset.paginate(select(rows), orders, cursor, scope="test", size=size, scalars=False,
                               key=lambda r: tuple(getattr(r, o.column.name) for o in orders))
        assert page.first == (cursor is None)
        seen.extend(page.rows)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("descending", [(False, False, False), (True, True, True), (False, True, False),
                                        (True, False, True)])
@pytest.mark.parametrize("size", [1, 5, 47, 50])
def test_every_row_once_in_order(session, descending, size):
    orders = [keyset.Order(rows.c.tier, descending[0]), keyset.Order(rows.c.at, descending[1]),
              keyset.Order(rows.c.id, descending[2])]
    seen, pages = _walk(orders, size)
    expected = list(session.execute(select(rows).order_by(*(o.clause() for o in orders))))
    assert [r.id for r in seen] == [r.id for r in expected]
    assert pages == max(1, -(-47 // size))


def test_a_tampered_or_foreign_cursor_starts_over(session):
    orders = [keyset.Order(rows.c.at, True), keyset.Order(rows.c.id, True)]
    first = keyset.paginate(select(rows), orders, None, scope="test", size=5, scalars=False, key=lambda r: (r.at, r.id))
    assert keyset.decode_cursor(first.next_cursor, "test", 2) == (first.rows[-1].at, first.rows[-1].id)
    for bad in (first.next_cursor[:-2] + "xx", "not-a-cursor", keyset.encode_cursor((1, 2), "other")):
        again = keyset.paginate(select(rows), orders, bad, scope="test", size=5, scalars=False,
                                key=lambda r: (r.at, r.id))
        assert again.first and [r.id for r in again.rows] == [r.id for r in first.rows]
    # The wrong number of key columns is not a page either.
    assert keyset.decode_cursor(keyset.encode_cursor((1,), "test"), "test", 2) is None


def test_dates_and_numbers_round_trip(session):
    from datetime import date
    from decimal import Decimal

    key = (datetime(2026, 3, 4, 5, 6), date(2026, 3, 4), Decimal("1.50"), "C110001", 42)
    assert keyset.decode_cursor(keyset.encode_cursor(key, "test"), "test", 5) == key
