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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.classification import C1, C2
from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import to_beijing, utcnow

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(seconds=120)
MAX_BACKOFF_SECONDS = 300


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the other side said no: retrying cannot help, a person must act
    CANCELLED = "cancelled"  # a person gave up on a refused request; nothing more is sent


STATUS_LABELS = {
    MessageStatus.PENDING: "发送中",
    MessageStatus.DELIVERED: "已送达",
    MessageStatus.REJECTED: "需人工处理",
    MessageStatus.CANCELLED: "已撤销",
}


class EventKind(enum.StrEnum):
    """What happened to a message: the worker's attempts and the people's actions."""

    FAILED = "failed"        # an attempt that did not get an answer (the worker retries)
    REJECTED = "rejected"    # the other side refused on the merits
    DELIVERED = "delivered"  # the other side did the work
    RESENT = "resent"        # a person corrected a refused request and sent it again
    CANCELLED = "cancelled"  # a person gave up on a refused request
    RETRY_NOW = "retry_now"  # a person brought the next attempt of a failing request forward
    DEFERRED = "deferred"    # the other side was outside its service hours: held until it opens


EVENT_LABELS = {
    EventKind.FAILED: "发送失败",
    EventKind.REJECTED: "对方拒绝",
    EventKind.DELIVERED: "对方已受理",
    EventKind.RESENT: "更正后重新发送",
    EventKind.CANCELLED: "撤销请求",
    EventKind.RETRY_NOW: "立即重试",
    EventKind.DEFERRED: "未在服务时间，等待发送",
}
PERSON_EVENTS = frozenset({EventKind.RESENT, EventKind.CANCELLED, EventKind.RETRY_NOW})
# Attempts that reached (or may have reached) the other side.
ATTEMPT_EVENTS = frozenset({EventKind.FAILED, EventKind.REJECTED, EventKind.DELIVERED})


class DeliveryState(enum.StrEnum):
    """The four states a request to an external system shows to the people who sent it."""

    NOT_SENT = "not_sent"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


DELIVERY_LABELS = {
    DeliveryState.NOT_SENT: "未发送",
    DeliveryState.SENT: "已发送",
    DeliveryState.SUCCEEDED: "处理成功",
    DeliveryState.FAILED: "处理失败",
}


class OutboxMessage(db.Model):
    """One request to an external system, delivered at least once, applied exactly once."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    topic: Mapped[str] = mapped_column(String(48), info=C1)
    # Sent to the other side with every attempt, so a retry never does the work twice.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True, info=C1)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("application.id"), index=True, info=C1)
    # The customer a request after opening is for (a change, a closure).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    payload: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    status: Mapped[MessageStatus] = mapped_column(String(16), default=MessageStatus.PENDING, index=True, info=C1)
    attempts: Mapped[int] = mapped_column(default=0, info=C1)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    claimed_until: Mapped[datetime | None] = mapped_column(info=C1)
    last_error: Mapped[str | None] = mapped_column(Text, info=C1)
    result: Mapped[dict | None] = mapped_column(EncryptedJSON, info=C2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    delivered_at: Mapped[datetime | None] = mapped_column(info=C1)
    # How often a person resent it after a refusal; each revision goes out under its own key.
    revision: Mapped[int] = mapped_column(default=0, server_default="0", info=C1)
    # When the current revision was queued: what a failing message has been waiting since.
    queued_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    last_attempt_at: Mapped[datetime | None] = mapped_column(info=C1)
    rejected_at: Mapped[datetime | None] = mapped_column(info=C1)

    events: Mapped[list["OutboxEvent"]] = relationship(order_by="OutboxEvent.id", back_populates="message",
                                                       cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[MessageStatus(self.status)]

    @property
    def delivery_state(self) -> DeliveryState:
        """未发送 until an attempt of the current revision went out (a deferral is not one), then 已发送."""
        status = MessageStatus(self.status)
        if status == MessageStatus.DELIVERED:
            return DeliveryState.SUCCEEDED
        if status in (MessageStatus.REJECTED, MessageStatus.CANCELLED):
            return DeliveryState.FAILED
        sent = any(event.kind in ATTEMPT_EVENTS and event.revision == self.revision for event in self.events)
        return DeliveryState.SENT if sent else DeliveryState.NOT_SENT

    @property
    def delivery_label(self) -> str:
        return DELIVERY_LABELS[self.delivery_state]

    def latest_event(self, *kinds: str) -> "OutboxEvent | None":
        """The newest event of one of `kinds` (any kind when none is given)."""
        for event in reversed(self.events):
            if not kinds or event.kind in kinds:
                return event
        return None


class OutboxEvent(db.Model):
    """One thing that happened to a message, kept instead of overwriting: who, when, why, what changed."""

    __tablename__ = "outbox_message_event"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"), index=True, info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    kind: Mapped[EventKind] = mapped_column(String(16), info=C1)
    # None when the worker recorded it.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    revision: Mapped[int] = mapped_column(default=0, info=C1)
    # The attempt number for the worker's events.
    attempt: Mapped[int | None] = mapped_column(info=C1)
    # The key the request went out (or will go out) under after this event.
    idempotency_key: Mapped[str] = mapped_column(String(80), info=C1)
    # The other side's message, or the person's reason.
    note: Mapped[str | None] = mapped_column(Text, info=C2)
    # Corrected fields, {"field": [before, after]}; encrypted, since they are customer data.
    changes: Mapped[dict | None] = mapped_column(EncryptedJSON, info=C2)
    # True when the answer came from a built-in simulator.
    simulated: Mapped[bool | None] = mapped_column(info=C1)

    message: Mapped[OutboxMessage] = relationship(back_populates="events")
    actor = relationship("Staff")

    @property
    def label(self) -> str:
        return EVENT_LABELS[EventKind(self.kind)]


class TransientError(Exception):
    """The other side is down, slow or unreachable: try again later."""


class OutsideServiceHours(TransientError):
    """The other side answers only in its service hours: send again when it opens, no failure counted."""

    def __init__(self, message: str, next_open: datetime):
        super().__init__(message)
        self.next_open = next_open  # naive UTC, like every stored timestamp


class Rejected(Exception):
    """The other side refused the request on its merits: do not retry."""


class ActionRefused(Exception):
    """A person's action on a message cannot be taken now; the message says why, in Chinese."""


class Handler(Protocol):
    # Whether the system this handler calls is a built-in simulator.
    simulated: bool

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        """Call the external system; runs outside any database transaction."""

    def apply(self, message: OutboxMessage, result: dict) -> None:
        """Record the answer in our data; runs in the transaction that marks delivery."""

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        """Record a refusal where the people handling it will see it."""

    # Optional: on_resent(message, changes, actor) and on_cancelled(message, reason, actor)
    # put the business records back in line after a person's action.


HANDLERS: dict[str, Callable[[], Handler]] = {}


def handler(topic: str):
    """Register a handler factory for `topic`."""
    def register(factory):
        HANDLERS[topic] = factory
        return factory
    return register


def enqueue(topic: str, idempotency_key: str, payload: dict, application_id: int | None = None,
            customer_id: int | None = None) -> OutboxMessage:
    """Add a message in the caller's transaction; it is sent only if that commits."""
    message = OutboxMessage(topic=topic, idempotency_key=idempotency_key, payload=payload,
                            application_id=application_id, customer_id=customer_id, events=[])
    db.session.add(message)
    return message


def _add_event(message: OutboxMessage, kind: EventKind, actor=None, **fields) -> OutboxEvent:
    event = OutboxEvent(kind=kind, actor_id=getattr(actor, "id", None), revision=message.revision,
                        idempotency_key=message.idempotency_key, **fields)
    message.events.append(event)
    return event


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 2, 4, 8 … seconds, capped at five minutes."""
    base = min(MAX_BACKOFF_SECONDS, 2 ** attempts)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass
class RunSummary:
    delivered: int = 0
    retried: int = 0
    rejected: int = 0
    deferred: int = 0


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
        simulated = getattr(handler_, "simulated", None)
        try:
            result = handler_.deliver(payload, key)
        except OutsideServiceHours as error:
            _record_deferral(message_id, key, now, error, simulated)
            summary.deferred += 1
            continue
        except TransientError as error:
            _record_failure(message_id, key, now, str(error), simulated)
            summary.retried += 1
            continue
        except Rejected as error:
            message = db.session.get(OutboxMessage, message_id, with_for_update=True)
            if _still_sent_as(message, key):
                message.status = MessageStatus.REJECTED
                message.last_error = str(error)
                message.claimed_until = None
                message.attempts += 1
                message.last_attempt_at = now
                message.rejected_at = utcnow()
                _add_event(message, EventKind.REJECTED, at=now, attempt=message.attempts, note=str(error)[:500],
                           simulated=simulated)
                handler_.on_rejected(message, str(error))
            db.session.commit()
            summary.rejected += 1
            continue
        except Exception as error:  # a bug or an unexpected answer: keep the message, retry later
            log.exception("outbox message %s (%s) failed", message_id, topic)
            _record_failure(message_id, key, now, f"{type(error).__name__}: {error}", simulated)
            summary.retried += 1
            continue
        message = db.session.get(OutboxMessage, message_id, with_for_update=True)
        # A message whose claim ran out may have been delivered by another worker meanwhile.
        if _still_sent_as(message, key):
            message.status = MessageStatus.DELIVERED
            message.result = result
            message.delivered_at = utcnow()
            message.claimed_until = None
            message.attempts += 1
            message.last_attempt_at = now
            _add_event(message, EventKind.DELIVERED, at=now, attempt=message.attempts,
                       simulated=bool(result.get("simulated")) if isinstance(result, dict) else simulated)
            db.session.flush()
            handler_.apply(message, result)
        db.session.commit()
        summary.delivered += 1
    return summary


def _still_sent_as(message: OutboxMessage, key: str) -> bool:
    """Whether the answer for `key` still belongs to the message: pending, and not resent since."""
    return message.status == MessageStatus.PENDING and message.idempotency_key == key


def _record_failure(message_id: int, key: str, now: datetime, error: str, simulated: bool | None) -> None:
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if _still_sent_as(message, key):
        message.attempts += 1
        message.last_error = error[:500]
        message.last_attempt_at = now
        message.next_attempt_at = now + backoff(message.attempts)
        message.claimed_until = None
        _add_event(message, EventKind.FAILED, at=now, attempt=message.attempts, note=error[:500], simulated=simulated)
    db.session.commit()


def _record_deferral(message_id: int, key: str, now: datetime, error: OutsideServiceHours,
                     simulated: bool | None) -> None:
    """Hold the message until the other side opens; not an attempt, so neither counted nor backed off."""
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if _still_sent_as(message, key):
        message.next_attempt_at = max(error.next_open, now)
        message.claimed_until = None
        _add_event(message, EventKind.DEFERRED, at=now, note=str(error)[:500], simulated=simulated)
    db.session.commit()


def revision_key(key: str, revision: int) -> str:
    """The key of a resent request: the first key plus the revision ("…/r2")."""
    return f"{key.split('/r', 1)[0]}/r{revision}"


def _refuse_unless(message: OutboxMessage, status: MessageStatus, expected_revision: int | None) -> None:
    """Refuse an action on a message that someone else (or a double click) has already acted on."""
    if message.status == status and (expected_revision is None or expected_revision == message.revision):
        return
    if message.status == status:
        # Resent meanwhile and refused again: the page the person acted on is out of date.
        raise ActionRefused(f"您打开页面后该请求已被重新发送（共 {message.revision} 次）并再次被拒绝，"
                            "请查看最新答复后再处理，本次未执行")
    done = message.latest_event()
    if done is not None and done.kind in PERSON_EVENTS and done.actor is not None:
        raise ActionRefused(f"该请求已由{done.actor.full_name}于{to_beijing(done.at):%m-%d %H:%M}{done.label}，"
                            f"当前状态为“{message.status_label}”，本次未重复操作")
    raise ActionRefused(f"该请求当前状态为“{message.status_label}”，不能执行此操作，请刷新查看")


def resend(message: OutboxMessage, actor, reason: str, corrections: dict, expected_revision: int | None = None,
           now: datetime | None = None) -> OutboxEvent:
    """Send a refused request again, with `corrections` applied to its payload; the caller locked the row.

    The corrected request is a new request, so it goes out under a new idempotency key: a
    service may answer a key it has seen with its first answer, and for the old key that was
    the refusal. The new key is derived from the first one and the revision, and the revision
    only moves on from a refused, locked row, so two people resending at once make one
    request, and the worker's retries of it keep its key: the other side does the work once.
    """
    _refuse_unless(message, MessageStatus.REJECTED, expected_revision)
    now = now or utcnow()
    changes = {name: [message.payload.get(name), value] for name, value in corrections.items()
               if value != message.payload.get(name)}
    message.payload = {**message.payload, **{name: after for name, (_before, after) in changes.items()}}
    message.revision += 1
    message.idempotency_key = revision_key(message.idempotency_key, message.revision)
    message.status = MessageStatus.PENDING
    message.next_attempt_at = now
    message.queued_at = now
    message.claimed_until = None
    message.rejected_at = None
    message.last_error = None
    event = _add_event(message, EventKind.RESENT, actor, note=reason, changes=changes or None)
    hook = getattr(HANDLERS[message.topic](), "on_resent", None)
    if hook:
        hook(message, changes, actor)
    db.session.flush()
    return event


def cancel(message: OutboxMessage, actor, reason: str, expected_revision: int | None = None) -> OutboxEvent:
    """Give up on a refused request; the caller locked the row.

    Only a refusal can be cancelled: a failing request may have been done by the other side
    with the answer lost on the way, and only a retry under its key can tell.
    """
    _refuse_unless(message, MessageStatus.REJECTED, expected_revision)
    message.status = MessageStatus.CANCELLED
    message.claimed_until = None
    event = _add_event(message, EventKind.CANCELLED, actor, note=reason)
    hook = getattr(HANDLERS[message.topic](), "on_cancelled", None)
    if hook:
        hook(message, reason, actor)
    db.session.flush()
    return event


def retry_now(message: OutboxMessage, actor, now: datetime | None = None) -> OutboxEvent:
    """Bring the next attempt of a failing request forward, under the same key; the caller locked the row."""
    now = now or utcnow()
    if message.status != MessageStatus.PENDING:
        _refuse_unless(message, MessageStatus.PENDING, None)
    if message.claimed_until is not None and message.claimed_until > now:
        raise ActionRefused("该请求正在发送中，请稍后刷新查看结果")
    if message.next_attempt_at <= now:
        raise ActionRefused("该请求已在发送队列中，将立即发送，无需重复操作")
    message.next_attempt_at = now
    event = _add_event(message, EventKind.RETRY_NOW, actor, attempt=message.attempts)
    db.session.flush()
    return event


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
