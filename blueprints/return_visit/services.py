"""Return-visit operations: the queue, recording a call, escalation to the branch manager, activation.

What counts toward the attempt allowance (rounds) is decided in rules.py; the allowance
itself is the app setting RETURN_VISIT_MAX_ATTEMPTS.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from blueprints.accounts import services as account_services
from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Staff
from blueprints.customers import services as customer_services
from blueprints.opening import choices, presenters
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application, StatusChange
from blueprints.opening.rules import ID_TYPE_LABELS
from blueprints.opening.workflow import Status
from blueprints.return_visit import rules, script
from blueprints.return_visit.models import CHECK_ITEMS, OUTCOME_LABELS, Outcome, ReturnVisit
from core import audit
from core.extensions import db
from core.files import StoredFile
from core.masking import mask_name
from core.timeutil import to_beijing, utcnow


class Refused(Exception):
    """An operation refused as given; `errors` maps form field names to Chinese messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class VisitRefused(Refused):
    """The call cannot be recorded as given."""


class AlreadyRecorded(Exception):
    """The attempt a form was for is on record already: a double submit, or a colleague's call."""

    def __init__(self, visit: ReturnVisit):
        super().__init__(f"attempt {visit.attempt_no} is recorded")
        self.visit = visit


class SendBackRefused(Refused):
    """The branch manager's send-back cannot be done as given."""


@dataclass(frozen=True)
class RoundState:
    """Where an account stands in its current round of calls."""

    round_no: int
    attempts: int  # calls recorded in this round
    max_attempts: int
    next_attempt_no: int  # the number the next call gets (counted over all rounds)

    @property
    def attempts_left(self) -> int:
        return rules.attempts_left(self.attempts, self.max_attempts)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempts_left <= 1


def max_attempts() -> int:
    return int(current_app.config["RETURN_VISIT_MAX_ATTEMPTS"])


# --- the agents' queue ----------------------------------------------------------------------------

def _queue_entries():
    """Per application: how often it entered the return-visit queue (its round) and when it last did."""
    return (select(StatusChange.application_id.label("application_id"), func.count().label("entries"),
                   func.max(StatusChange.at).label("entered_at"))
            .where(StatusChange.to_status == Status.AWAITING_RETURN_VISIT)
            .group_by(StatusChange.application_id)
            .subquery("queue_entries"))


def _queue_select(user: Staff):
    """The user's queue with each account's round, calls in the round and last call, in working order.

    Order: accounts not yet called in this round first, then those reached without passing,
    then those not reached; within each, the longest waiting first (since entering the queue,
    or since the last call).
    """
    entries = _queue_entries()
    round_no = func.coalesce(entries.c.entries, 1)
    in_round = (select(ReturnVisit.application_id.label("application_id"), ReturnVisit.round_no.label("round_no"),
                       func.count().label("attempts"))
                .group_by(ReturnVisit.application_id, ReturnVisit.round_no).subquery("in_round"))
    latest = (select(ReturnVisit.application_id.label("application_id"),
                     func.max(ReturnVisit.attempt_no).label("attempt_no"))
              .group_by(ReturnVisit.application_id).subquery("latest_attempt"))
    last = aliased(ReturnVisit, name="last_visit")
    untried = in_round.c.attempts.is_(None)
    tier = case((untried, 0), (last.outcome == Outcome.NOT_REACHED, 2), else_=1)
    waiting_since = case((untried, func.coalesce(entries.c.entered_at, Application.updated_at)), else_=last.visited_at)
    return (opening_services.visible_applications(user)
            .add_columns(round_no.label("round_no"), func.coalesce(in_round.c.attempts, 0).label("attempts"),
                         last.outcome.label("last_outcome"), last.visited_at.label("last_at"),
                         waiting_since.label("waiting_since"))
            .outerjoin(entries, entries.c.application_id == Application.id)
            .outerjoin(in_round, and_(in_round.c.application_id == Application.id, in_round.c.round_no == round_no))
            .outerjoin(latest, latest.c.application_id == Application.id)
            .outerjoin(last, and_(last.application_id == Application.id, last.attempt_no == latest.c.attempt_no))
            .where(Application.status == Status.AWAITING_RETURN_VISIT)
            .order_by(tier, waiting_since, Application.id))


def queue(user: Staff) -> list[Application]:
    """Accounts awaiting a return visit, in the order the agents work them."""
    return list(db.session.scalars(_queue_select(user)))


def fund_account_numbers(application_ids: list[int]) -> dict[int, str]:
    if not application_ids:
        return {}
    return dict(db.session.execute(select(FundAccount.application_id, FundAccount.number)
                                   .where(FundAccount.application_id.in_(application_ids))).all())


def queue_rows(user: Staff) -> list[dict]:
    """The queue with what the agent scans it for, read in a fixed number of queries for the whole list."""
    rows = db.session.execute(_queue_select(user)).all()
    numbers = fund_account_numbers([row.Application.id for row in rows])
    profiles = customer_services.profiles_of(row.Application.customer_id for row in rows)
    limit = max_attempts()
    return [{
        "application": row.Application,
        "mobile": getattr(profiles.get(row.Application.customer_id), "mobile", None),
        "fund_account": numbers.get(row.Application.id),
        "round_no": row.round_no,
        "attempts": row.attempts,
        "max_attempts": limit,
        "last_outcome": OUTCOME_LABELS[Outcome(row.last_outcome)] if row.last_outcome else None,
        "last_at": row.last_at,
        "waiting_since": row.waiting_since,
    } for row in rows]


# --- one account's calls --------------------------------------------------------------------------

def required_items(application: Application) -> list[str]:
    """The 第十一条 items this call must cover: the agent item only where an agent opened."""
    has_agent = bool((application.step_data("agent") or {}).get("has_agent"))
    return [key for key in CHECK_ITEMS if key != "agent" or has_agent]


def attempts(application: Application) -> list[ReturnVisit]:
    """Every call to the customer, over all rounds, oldest first."""
    return list(db.session.scalars(select(ReturnVisit).options(joinedload(ReturnVisit.agent))
                                   .where(ReturnVisit.application_id == application.id)
                                   .order_by(ReturnVisit.attempt_no)))


def round_state(application: Application) -> RoundState:
    entries = db.session.scalar(select(func.count()).select_from(StatusChange).where(
        StatusChange.application_id == application.id, StatusChange.to_status == Status.AWAITING_RETURN_VISIT)) or 0
    round_no = rules.round_of(entries)
    in_round, last_no = db.session.execute(
        select(func.sum(case((ReturnVisit.round_no == round_no, 1), else_=0)), func.max(ReturnVisit.attempt_no))
        .where(ReturnVisit.application_id == application.id)).one()
    return RoundState(round_no=round_no, attempts=in_round or 0, max_attempts=max_attempts(),
                      next_attempt_no=(last_no or 0) + 1)


def last_send_back(application: Application) -> StatusChange | None:
    """The branch manager's latest send-back of this account to the queue, if any."""
    return db.session.scalar(
        select(StatusChange).options(joinedload(StatusChange.actor))
        .where(StatusChange.application_id == application.id, StatusChange.from_status == Status.INACTIVE,
               StatusChange.to_status == Status.AWAITING_RETURN_VISIT)
        .order_by(StatusChange.id.desc()).limit(1))


def status_history(application: Application) -> list[StatusChange]:
    return list(db.session.scalars(select(StatusChange).options(joinedload(StatusChange.actor))
                                   .where(StatusChange.application_id == application.id).order_by(StatusChange.id)))


def fund_account_of(application: Application) -> FundAccount | None:
    return db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))


def contact_of(application: Application):
    """The customer's current profile: the number the agent calls is today's, not the one typed at opening."""
    return customer_services.profiles_of([application.customer_id]).get(application.customer_id)


def script_facts(application: Application, firm_name: str) -> dict[str, str]:
    """What the script names and the agent checks the customer's answers against, masked for display."""
    profile = contact_of(application)
    agent = application.step_data("agent") or {}
    fund_account = fund_account_of(application)
    opened = to_beijing(fund_account.opened_at) if fund_account else None
    channel = choices.CHANNELS.get(application.channel, application.channel)
    facts = {
        "firm_name": firm_name,
        "customer_name": mask_name(profile.name if profile else application.customer_name),
        "honorific": script.honorific(profile.sex if profile else None),
        "sex": choices.SEXES.get(profile.sex if profile else None, "—"),
        "id_type": ID_TYPE_LABELS.get(profile.id_type if profile else application.id_type, "证件"),
        "id_last_four": script.last_four_only(profile.id_number if profile else application.id_number),
        "risk_class": presenters.class_label(opening_services.latest_assessment(application)) or "未评估",
        "channel": channel,
        "channel_phrase": script.CHANNEL_PHRASES.get(application.channel, f"以{channel}方式办理"),
        "opening_date": f"{opened.year}年{opened.month}月{opened.day}日" if opened else "—",
        "branch_name": application.branch.name,
        "fund_account": fund_account.number if fund_account else "—",
    }
    if agent.get("has_agent"):
        facts.update(
            agent_name=mask_name(agent.get("name")),
            agent_relationship=choices.AGENT_RELATIONSHIPS.get(agent.get("relationship"), "—"),
            authorization_ref=agent.get("authorization_ref") or "—",
            notarization_no=agent.get("notarization_no") or "未办理公证",
        )
    return facts


def recorded_attempt(application: Application, attempt_no: int | None) -> ReturnVisit | None:
    """The call recorded under `attempt_no`, if there is one."""
    if not attempt_no:
        return None
    return db.session.scalar(select(ReturnVisit).options(joinedload(ReturnVisit.agent))
                             .where(ReturnVisit.application_id == application.id,
                                    ReturnVisit.attempt_no == attempt_no))


def visit_errors(application: Application, outcome: str, items: list[str], notes: str,
                 attempt_no: int | None = None) -> dict[str, str]:
    """What is wrong with recording this call as given, by form field; empty when it may be recorded.

    `attempt_no` is the number of the attempt the form was opened for (None: not from a form).
    """
    if application.status != Status.AWAITING_RETURN_VISIT or fund_account_numbers([application.id]) == {}:
        return {"outcome": f"该账户当前状态为“{application.status_label}”，不在回访队列中"}
    if attempt_no is not None and attempt_no != round_state(application).next_attempt_no:
        return {"outcome": "回访记录已有变化，本页已过期：请刷新页面，核对回访记录后再记录本次回访"}
    if outcome not in set(Outcome):
        return {"outcome": "请选择回访结果"}
    needed = required_items(application)
    if outcome == Outcome.NOT_REACHED and items:
        return {"items": "未接通时客户未确认任何事项：请取消勾选，或选择其他回访结果"}
    if outcome == Outcome.PASSED and any(item not in items for item in needed):
        missing = "、".join(CHECK_ITEMS[item] for item in needed if item not in items)
        return {"items": f"回访通过须逐项确认：{missing}"}
    if outcome in rules.REASON_REQUIRED and not notes.strip():
        return {"notes": "回访未通过或客户拒绝时，须填写原因"}
    return {}


def record_visit(application: Application, agent: Staff, outcome: str, items: list[str], notes: str,
                 recording: StoredFile | None = None, recording_name: str | None = None,
                 attempt_no: int | None = None) -> ReturnVisit:
    """Record one call: passed activates the accounts; an unsuccessful call keeps the account in the
    queue while the round has attempts left, and hands it to the branch manager when they are used up.

    `attempt_no` is the attempt the form was for; when it is on record already (a double submit)
    AlreadyRecorded is raised and nothing is added.
    """
    already = recorded_attempt(application, attempt_no)
    if already is not None:
        raise AlreadyRecorded(already)
    errors = visit_errors(application, outcome, items, notes, attempt_no)
    if errors:
        raise VisitRefused(errors)
    outcome = Outcome(outcome)
    state = round_state(application)
    confirmed = [item for item in required_items(application) if item in items]
    visit = ReturnVisit(application_id=application.id, attempt_no=state.next_attempt_no, round_no=state.round_no,
                        agent_id=agent.id, outcome=outcome, items=confirmed, notes=notes.strip() or None)
    if recording is not None:
        visit.recording_sha256, visit.recording_mime, visit.recording_size = recording.sha256, recording.mime, recording.size
        visit.recording_name = (recording_name or "recording")[:120]
    try:
        # Two submits that got past the checks together: the unique attempt number lets one in.
        with db.session.begin_nested():
            db.session.add(visit)
    except IntegrityError:
        already = recorded_attempt(application, visit.attempt_no)
        if already is None:
            raise
        raise AlreadyRecorded(already) from None

    target = rules.status_after(outcome, state.attempts + 1, state.max_attempts)
    if target == Status.ACTIVE:
        _activate(application, agent)
    elif target == Status.INACTIVE:
        reason = f"第 {state.round_no} 轮回访 {state.attempts + 1} 次未成功，转营业部负责人处理（最后一次：{visit.outcome_label}"
        reason += f"，{visit.notes}）" if visit.notes else "）"
        opening_services.transition(application, Status.INACTIVE, agent, reason=reason)
    else:
        application.updated_at = utcnow()  # stays queued; also makes a concurrent write of the row conflict
    audit.record("application.return_visit", "application", application.reference, actor=agent,
                 outcome=outcome, attempt=visit.attempt_no, round=state.round_no, status=target)
    db.session.flush()
    return visit


def _activate(application: Application, agent: Staff) -> None:
    opening_services.transition(application, Status.ACTIVE, agent, reason="回访通过，账户激活")
    account_services.activate(fund_account_of(application), agent, "回访通过，账户激活")


# --- the branch manager's list --------------------------------------------------------------------

def _escalated_select(user: Staff):
    """Accounts whose return visits did not pass within a round, longest waiting for the manager first."""
    escalation = (select(StatusChange.application_id.label("application_id"),
                         func.max(StatusChange.at).label("escalated_at"))
                  .where(StatusChange.to_status == Status.INACTIVE)
                  .group_by(StatusChange.application_id).subquery("escalation"))
    entries = _queue_entries()
    return (opening_services.visible_applications(user)
            .add_columns(escalation.c.escalated_at.label("escalated_at"),
                         func.coalesce(entries.c.entries, 1).label("round_no"))
            .outerjoin(escalation, escalation.c.application_id == Application.id)
            .outerjoin(entries, entries.c.application_id == Application.id)
            .where(Application.status == Status.INACTIVE)
            .order_by(escalation.c.escalated_at, Application.id))


def escalated(user: Staff) -> list[Application]:
    """Accounts waiting for the branch manager after unsuccessful return visits."""
    return list(db.session.scalars(_escalated_select(user)))


def escalated_rows(user: Staff) -> list[dict]:
    """The manager's list with every call of each account, read in a fixed number of queries."""
    rows = db.session.execute(_escalated_select(user).options(joinedload(Application.branch))).all()
    ids = [row.Application.id for row in rows]
    numbers = fund_account_numbers(ids)
    calls: dict[int, list[ReturnVisit]] = {application_id: [] for application_id in ids}
    if ids:
        for visit in db.session.scalars(select(ReturnVisit).options(joinedload(ReturnVisit.agent))
                                        .where(ReturnVisit.application_id.in_(ids))
                                        .order_by(ReturnVisit.application_id, ReturnVisit.attempt_no)):
            calls[visit.application_id].append(visit)
    return [{
        "application": row.Application,
        "fund_account": numbers.get(row.Application.id),
        "escalated_at": row.escalated_at,
        "round_no": row.round_no,
        "attempts": calls[row.Application.id],
    } for row in rows]


def send_back_errors(application: Application, reason: str) -> dict[str, str]:
    """What is wrong with sending this account back to the queue, by form field; empty when it may be."""
    if application.status != Status.INACTIVE:
        return {"reason": f"该账户当前状态为“{application.status_label}”，无需退回回访队列"}
    if not reason.strip():
        return {"reason": "请填写退回重新回访的原因"}
    return {}


def send_back(application: Application, manager: Staff, reason: str) -> int:
    """Return the account to the agents' queue for a new round of calls; return the new round's number."""
    errors = send_back_errors(application, reason)
    if errors:
        raise SendBackRefused(errors)
    new_round = round_state(application).round_no + 1
    opening_services.transition(application, Status.AWAITING_RETURN_VISIT, manager, reason=reason.strip())
    audit.record("application.return_visit_send_back", "application", application.reference, actor=manager,
                 round=new_round)
    db.session.flush()
    return new_round
