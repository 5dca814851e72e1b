"""Keyset paging: a list page is the rows after the last one shown, found through the index of its order.

An offset makes the database count past every earlier row, so page 500 of a queue costs 500 pages;
a keyset page starts from the sort key of the previous page's last row and costs one page wherever
it is. The cursor carrying that key is signed, so a tampered or stale link starts over at the first
page instead of failing. Signed is not secret: sort keys are dates, ids and numbers, never a personal value.
"""
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement, Select

from core.extensions import db

PAGE_SIZE = 50
_SALT = "keyset-cursor"


@dataclass(frozen=True)
class Order:
    """One column of a list's order; the last one must be unique (an id) so that every row has one place."""

    column: ColumnElement
    descending: bool = False

    def clause(self):
        return self.column.desc() if self.descending else self.column.asc()


@dataclass
class Page:
    """One page of rows, the cursor of the next page (None at the end) and whether this was the first page."""

    rows: list
    next_cursor: str | None
    first: bool
    size: int = PAGE_SIZE
    extra: dict = field(default_factory=dict)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def _encode_value(value: Any):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if hasattr(value, "value"):  # str enums
        return value.value
    return value


def _decode_value(value: Any):
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "n" in value:
            return Decimal(value["n"])
    return value


def encode_cursor(key: Sequence, scope: str) -> str:
    """The signed cursor of a sort key, bound to one list (`scope`) so it cannot be replayed on another."""
    return _serializer().dumps({"s": scope, "k": [_encode_value(v) for v in key]})


def decode_cursor(cursor: str | None, scope: str, width: int) -> tuple | None:
    """The sort key in `cursor`, or None for the first page (no cursor, a bad signature or another list's)."""
    if not cursor:
        return None
    try:
        data = _serializer().loads(cursor)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != scope or len(data.get("k") or ()) != width:
        return None
    try:
        return tuple(_decode_value(v) for v in data["k"])
    except (TypeError, ValueError):
        return None


def after(orders: Sequence[Order], key: Sequence) -> ColumnElement:
    """The condition "comes after `key` in this order".

    Written as `a <= k1 AND (a < k1 OR (b <= k2 AND (b < k2 OR ...)))` with each direction in its
    column, so the database walks the index of the first column from the key on instead of
    evaluating an OR over the whole table.
    """
    def beyond(order: Order, value):
        return order.column < value if order.descending else order.column > value

    def reached(order: Order, value):
        return order.column <= value if order.descending else order.column >= value

    condition = beyond(orders[-1], key[-1])
    for order, value in zip(reversed(orders[:-1]), reversed(key[:-1])):
        condition = and_(reached(order, value), or_(beyond(order, value), condition))
    return condition


def paginate(query: Select, orders: Sequence[Order], cursor: str | None, *, scope: str,
             key: Callable[[Any], Sequence], size: int = PAGE_SIZE, scalars: bool = True) -> Page:
    """Run `query` for the page after `cursor`, in `orders`, `size` rows at most.

    `key(row)` gives a row's sort key, in the order of `orders`; it becomes the next page's cursor.
    `scalars=False` pages a query of several columns (rows come back as Row tuples).
    """
    start = decode_cursor(cursor, scope, len(orders))
    if start is not None:
        query = query.where(after(orders, start))
    query = query.order_by(*(order.clause() for order in orders)).limit(size + 1)
    result = db.session.scalars(query) if scalars else db.session.execute(query)
    rows = list(result.unique() if scalars else result)
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(key(rows[-1]), scope) if more and rows else None
    return Page(rows=rows, next_cursor=next_cursor, first=start is None, size=size)
