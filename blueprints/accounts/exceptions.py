"""Exceptions (异常处理): refused and failing requests to China Clearing and the banks, and what people do about them.

A refusal (REJECTED, shown as 需人工处理) waits for a person: corrected and resent, or
cancelled with a reason. A request that keeps failing (PENDING after several attempts) is
retried by the worker on its own; a person may only bring the next attempt forward.
Branch managers act for their own branch, HQ administrators for all; everybody else sees
the state on the application.
"""
import enum
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, case, func, literal, select

from blueprints.accounts.models import BANKS, MARKETS
from blueprints.accounts.services import BIND_DEPOSITORY, OPEN_ACCOUNTS, SYSTEM_LABELS
from blueprints.auth.models import Branch, Staff
from blueprints.opening.models import Application
from core import audit, masking, outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxEvent, OutboxMessage
from core.reference import ID_TYPE_LABELS
from core.roles import Role

ACTING_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)
LIST_LIMIT = 200


class State(enum.StrEnum):
    """Where a message stands for the people handling exceptions."""

    REJECTED = "rejected"    # refused: a person must correct and resend, or cancel
    FAILING = "failing"      # still pending after several attempts: the worker keeps retrying
    CANCELLED = "cancelled"  # given up, with a reason
    RESOLVED = "resolved"    # resent after a refusal and since accepted


STATE_LABELS = {
    State.REJECTED: "需人工处理",
    State.FAILING: "持续失败",
    State.CANCELLED: "已撤销",
    State.RESOLVED: "更正后已受理",
}

# What each topic asks the other side to do, as the screens name it.
REQUEST_TITLES = {
    BIND_DEPOSITORY: "第三方存管绑定请求",
    OPEN_ACCOUNTS: "证券账户开立请求",
}

# The fields a person may correct before resending, per topic. Name, ID type and ID number
# are key information (三要素): they were verified against the public-security service and
# reviewed, so they are never changed here; a refusal over them is cancelled and the
# clerk goes through a key-information change.
CORRECTABLE = {
    BIND_DEPOSITORY: ("bank_code", "bank_card"),
    OPEN_ACCOUNTS: ("mobile", "address", "postcode"),
}

FIELD_LABELS = {
    "fund_account_no": "资金账户",
    "bank_code": "存管银行",
    "bank_card": "银行卡号",
    "name": "客户姓名",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "markets": "开立市场",
    "mobile": "手机号码",
    "address": "联系地址",
    "postcode": "邮政编码",
    "unified_account_no": "一码通账户",
    "sub_account_numbers": "证券账户",
}

# What each topic's screen shows of the request, in this order.
SHOWN_FIELDS = {
    BIND_DEPOSITORY: ("fund_account_no", "bank_code", "bank_card", "name", "id_number"),
    OPEN_ACCOUNTS: ("name", "id_type", "id_number", "markets", "mobile", "address", "postcode"),
}


def _masked(name: str, value) -> str:
    """A payload value as staff may see it on screen: C2 data masked, codes as their labels."""
    if value in (None, "", []):
        return "—"
    maskers = {
        "bank_card": masking.mask_bank_card,
        "mobile": masking.mask_mobile,
        "address": masking.mask_address,
        "name": masking.mask_name,
        "id_number": masking.mask_id_number,
        "bank_code": lambda code: BANKS.get(code, code),
        "id_type": lambda code: ID_TYPE_LABELS.get(code, code),
        "markets": lambda markets: "、".join(MARKETS.get(m, m) for m in markets),
        "sub_account_numbers": "、".join,
    }
    return maskers.get(name, str)(value)


# What the screen says about resending or cancelling a topic another area registered (its own words).
HINTS: dict[str, dict[str, str]] = {}


def register_topic(topic: str, *, system: str, title: str, shown: tuple[str, ...], resend_form,
                   resend_hint: str, cancel_hint: str, correctable: tuple[str, ...] = ()) -> None:
    """Let the requests of another business (closure, …) be handled on this screen like the opening's."""
    from blueprints.accounts.forms import CORRECTION_FORMS

    SYSTEM_LABELS[topic] = system
    REQUEST_TITLES[topic] = title
    SHOWN_FIELDS[topic] = shown
    CORRECTABLE[topic] = correctable
    CORRECTION_FORMS[topic] = resend_form
    HINTS[topic] = {"resend": resend_hint, "cancel": cancel_hint}


def business_link(message: OutboxMessage) -> dict | None:
    """The business after opening a request belongs to ({label, url, status}), when its handler says."""
    hook = getattr(outbox.HANDLERS[message.topic](), "business_link", None) if message.topic in outbox.HANDLERS else None
    return hook(message) if hook else None


@dataclass(frozen=True)
class ShownField:
    name: str
    label: str
    value: str
    correctable: bool


@dataclass(frozen=True)
class ShownChange:
    label: str
    before: str
    after: str


def failing_after() -> int:
    """Attempts after which a pending message counts as failing (a setting)."""
    return int(current_app.config.get("OUTBOX_FAILING_AFTER_ATTEMPTS", 3))


def state_of(message: OutboxMessage) -> State | None:
    if message.status == MessageStatus.REJECTED:
        return State.REJECTED
    if message.status == MessageStatus.CANCELLED:
        return State.CANCELLED
    if message.status == MessageStatus.PENDING and message.attempts >= failing_after():
        return State.FAILING
    if message.status == MessageStatus.DELIVERED and message.revision > 0:
        return State.RESOLVED
    return None


def state_column():
    return case(
        (OutboxMessage.status == MessageStatus.REJECTED, literal(State.REJECTED.value)),
        (OutboxMessage.status == MessageStatus.CANCELLED, literal(State.CANCELLED.value)),
        (and_(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.attempts >= failing_after()),
         literal(State.FAILING.value)),
        (and_(OutboxMessage.status == MessageStatus.DELIVERED, OutboxMessage.revision > 0),
         literal(State.RESOLVED.value)),
        else_=None,
    )


def waiting_since_column():
    """Since when a message has waited: its refusal, or the queueing of its current revision."""
    return case((OutboxMessage.status == MessageStatus.REJECTED,
                 func.coalesce(OutboxMessage.rejected_at, OutboxMessage.queued_at)),
                else_=OutboxMessage.queued_at)


def waiting_since(message: OutboxMessage) -> datetime:
    if message.status == MessageStatus.REJECTED and message.rejected_at:
        return message.rejected_at
    return message.queued_at


def _scoped(query, user: Staff, branch_id: int | None = None):
    """Restrict a query joined to Application to what `user` may see (and to one branch if asked)."""
    if not user.sees_all_branches:
        query = query.where(Application.branch_id == user.branch_id)
    elif branch_id:
        query = query.where(Application.branch_id == branch_id)
    return query


def counts(user: Staff, topic: str | None = None, branch_id: int | None = None) -> dict[State, int]:
    """How many messages are in each state, counted by the database."""
    rows = _scoped(select(state_column().label("state"))
                   .select_from(OutboxMessage).join(Application, OutboxMessage.application_id == Application.id),
                   user, branch_id)
    if topic:
        rows = rows.where(OutboxMessage.topic == topic)
    rows = rows.subquery()
    found = dict(db.session.execute(
        select(rows.c.state, func.count()).where(rows.c.state.is_not(None)).group_by(rows.c.state)).all())
    return {state: found.get(state.value, 0) for state in State}


def listing(user: Staff, state: State, topic: str | None = None, branch_id: int | None = None,
            limit: int = LIST_LIMIT) -> list[tuple[OutboxMessage, Application]]:
    """The messages in one state, filtered in the database; open ones oldest first, closed ones newest first."""
    query = _scoped(select(OutboxMessage, Application)
                    .join(Application, OutboxMessage.application_id == Application.id)
                    .where(state_column() == state.value), user, branch_id)
    if topic:
        query = query.where(OutboxMessage.topic == topic)
    if state in (State.REJECTED, State.FAILING):
        query = query.order_by(waiting_since_column(), OutboxMessage.id)
    else:
        query = query.order_by(OutboxMessage.id.desc())
    return [tuple(row) for row in db.session.execute(query.limit(limit)).all()]


def find_visible(user: Staff, message_id: int, for_update: bool = False) -> OutboxMessage | None:
    """A message of an application `user` may see; `for_update` locks it for an action."""
    query = _scoped(select(OutboxMessage).join(Application, OutboxMessage.application_id == Application.id)
                    .where(OutboxMessage.id == message_id), user)
    if for_update:
        query = query.with_for_update(of=OutboxMessage)
    return db.session.scalar(query)


def can_act(user: Staff, message: OutboxMessage) -> bool:
    """Branch managers for their own branch (find_visible has checked it), HQ administrators for all."""
    return user.role in ACTING_ROLES and message.topic in CORRECTABLE


def shown_fields(message: OutboxMessage) -> list[ShownField]:
    payload = message.payload
    correctable = CORRECTABLE.get(message.topic, ())
    return [ShownField(name, FIELD_LABELS[name], _masked(name, payload.get(name)), name in correctable)
            for name in SHOWN_FIELDS.get(message.topic, ())]


def shown_changes(event: OutboxEvent) -> list[ShownChange]:
    return [ShownChange(FIELD_LABELS.get(name, name), _masked(name, before), _masked(name, after))
            for name, (before, after) in sorted((event.changes or {}).items())]


def current_values(message: OutboxMessage) -> dict:
    """The correctable fields as they are now, for the hints next to the form fields (masked)."""
    return {name: _masked(name, message.payload.get(name)) for name in CORRECTABLE.get(message.topic, ())}


def refusal(message: OutboxMessage) -> OutboxEvent | None:
    """The other side's latest refusal, with its time and whether a simulator gave it."""
    return message.latest_event(outbox.EventKind.REJECTED)


def _reference(message: OutboxMessage) -> str:
    return db.session.scalar(select(Application.reference).where(Application.id == message.application_id))


def resend_corrected(message: OutboxMessage, actor: Staff, reason: str, corrections: dict,
                     expected_revision: int | None) -> OutboxEvent:
    """Correct the fields a person may correct and send the request again under a new key."""
    allowed = CORRECTABLE[message.topic]
    event = outbox.resend(message, actor, reason, {k: v for k, v in corrections.items() if k in allowed},
                          expected_revision=expected_revision)
    audit.record("outbox.resend", "application", _reference(message), message=message.id, topic=message.topic,
                 revision=message.revision, fields=sorted(event.changes or {}))
    return event


def cancel_request(message: OutboxMessage, actor: Staff, reason: str, expected_revision: int | None) -> OutboxEvent:
    """Give up on a refused request; the binding or the opening is marked failed (see the handlers)."""
    event = outbox.cancel(message, actor, reason, expected_revision=expected_revision)
    audit.record("outbox.cancel", "application", _reference(message), message=message.id, topic=message.topic,
                 revision=message.revision)
    return event


def retry_request(message: OutboxMessage, actor: Staff) -> OutboxEvent:
    """Bring the next attempt of a failing request forward; it keeps its key."""
    event = outbox.retry_now(message, actor)
    audit.record("outbox.retry_now", "application", _reference(message), message=message.id, topic=message.topic,
                 attempts=message.attempts)
    return event


def branches() -> list[Branch]:
    """The branches HQ can filter by."""
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False)).order_by(Branch.code)))


def system_label(topic: str) -> str:
    return SYSTEM_LABELS.get(topic, topic)


def request_title(topic: str) -> str:
    return REQUEST_TITLES.get(topic, topic)
