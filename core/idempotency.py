"""A form's client token: one record however often the form is posted, and only ever its maker's.

Each create form carries a random token in a hidden field; the record it makes keeps it (a unique
column), so a double click or a resent post finds the first record instead of making a second. A token
is not a secret a reader of the page cannot copy: one posted by another staff member than the record's
maker (a replayed or copied form) is refused, never answered with that record or led to it.
"""
from sqlalchemy import select

from core.extensions import db


class TokenNotYours(Exception):
    """The client token belongs to a record another staff member made (app.py answers 403, audited)."""

    title = "页面已失效"
    message = "该页面已失效，请刷新页面后重新填写提交（本次提交未保存）。"


def made_with(model, client_token: str | None, actor_id: int, maker: str = "created_by_id"):
    """The record `actor_id`'s form already made with `client_token`, or None; TokenNotYours when the
    record's `maker` column names someone else."""
    if not client_token:
        return None
    made = db.session.scalar(select(model).where(model.client_token == client_token))
    if made is not None and getattr(made, maker) != actor_id:
        raise TokenNotYours()
    return made
