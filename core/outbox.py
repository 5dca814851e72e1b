"""Transactional outbox: requests to external systems written with the business change,
delivered afterwards by a worker that retries with backoff."""
import enum
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import utcnow

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(seconds=120)
MAX_BACKOFF_SECONDS = 300


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the other side said no: retrying cannot help, a person must act


class OutboxMessage(db.Model):
    """One request to an external system, delivered at least once, applied exactly once."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(48))
    # Sent to the other side with every attempt, so a retry never does the work twice.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True)
    payload: Mapped[dict] = mapped_column(EncryptedJSON)
    status: Mapped[MessageStatus] = mapped_column(String(16), default=MessageStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(EncryptedJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class TransientError(Exception):
    """The other side is down, slow or unreachable: try again later."""


class Rejected(Exception):
    """The other side refused the request on its merits: do not retry."""


class Handler(Protocol):
    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        """Call the external system; runs outside any database transaction."""

    def apply(self, message: OutboxMessage, result: dict) -> None:
        """Record the answer in our data; runs in the transaction that marks delivery."""

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        """Record a refusal where the people handling it will see it."""


HANDLERS: dict[str, Callable[[], Handler]] = {}


def handler(topic: str):
    """Register a handler factory for `topic`."""
    def register(factory):
        HANDLERS[topic] = factory
        return factory
    return register


def enqueue(topic: str, idempotency_key: str, payload: dict, application_id: int | None = None) -> OutboxMessage:
    """Add a message in the caller's transaction; it is sent only if that commits."""
    message = OutboxMessage(topic=topic, idempotency_key=idempotency_key, payload=payload,
                            application_id=application_id)
    db.session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 2, 4, 8 … seconds, capped at five minutes."""
    base = min(MAX_BACKOFF_SECONDS, 2 ** attempts)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass
class RunSummary:
    delivered: int = 0
    retried: int = 0
    rejected: int = 0


def _claim(now: datetime, limit: int) -> list[int]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now,
               (OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    messages = list(db.session.scalars(query))
    for message in messages:
        message.claimed_until = now + CLAIM_FOR
    ids = [message.id for message in messages]
    db.session.commit()
    return ids


def run_once(now: datetime | None = None, limit: int = 20) -> RunSummary:
    """Deliver the messages that are due; call inside an app context."""
    now = now or utcnow()
    summary = RunSummary()
    for message_id in _claim(now, limit):
        message = db.session.get(OutboxMessage, message_id)
        payload, key, topic = message.payload, message.idempotency_key, message.topic
        db.session.commit()  # no transaction may stay open while the other side is called
        handler_ = HANDLERS[topic]()
        try:
            result = handler_.deliver(payload, key)
        except TransientError as error:
            _record_failure(message_id, now, str(error))
            summary.retried += 1
            continue
        except Rejected as error:
            message = db.session.get(OutboxMessage, message_id, with_for_update=True)
            message.status = MessageStatus.REJECTED
            message.last_error = str(error)
            message.claimed_until = None
            handler_.on_rejected(message, str(error))
            db.session.commit()
            summary.rejected += 1
            continue
        except Exception as error:  # a bug or an unexpected answer: keep the message, retry later
            log.exception("outbox message %s (%s) failed", message_id, topic)
            _record_failure(message_id, now, f"{type(error).__name__}: {error}")
            summary.retried += 1
            continue
        message = db.session.get(OutboxMessage, message_id, with_for_update=True)
        # A message whose claim ran out may have been delivered by another worker meanwhile.
        if message.status == MessageStatus.PENDING:
            message.status = MessageStatus.DELIVERED
            message.result = result
            message.delivered_at = utcnow()
            message.claimed_until = None
            message.attempts += 1
            db.session.flush()
            handler_.apply(message, result)
        db.session.commit()
        summary.delivered += 1
    return summary


def _record_failure(message_id: int, now: datetime, error: str) -> None:
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    message.attempts += 1
    message.last_error = error[:500]
    message.next_attempt_at = now + backoff(message.attempts)
    message.claimed_until = None
    db.session.commit()


def run_forever(poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    """The worker loop behind `flask outbox-worker`."""
    while not stop():
        try:
            summary = run_once()
        except Exception:  # the database may be restarting: log, wait, go on
            log.exception("outbox run failed")
            db.session.rollback()
            summary = RunSummary()
        if not (summary.delivered or summary.retried or summary.rejected):
            time.sleep(poll_seconds)
