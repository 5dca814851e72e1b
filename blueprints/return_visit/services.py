"""Return-visit operations: the queue, recording a call, escalation to the branch manager, activation.

What counts toward the attempt allowance (rounds) is decided in rules.py; the allowance
itself is the app setting RETURN_VISIT_MAX_ATTEMPTS.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from blueprints.accounts import services as account_services
from blueprints.accounts.models import AccountStatus, FundAccount
from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerProfile
from blueprints.opening import presenters, progress
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application
from blueprints.return_visit import rules, script
from blueprints.return_visit.models import (CHECK_ITEMS, OUTCOME_LABELS, Outcome, ReturnVisit, ReturnVisitCase,
                                            ReturnVisitCaseChange)
from blueprints.return_visit.rules import CaseStatus
from core import audit, choices, keyset, reveal
from core.extensions import db
from core.files import StoredFile
from core.masking import mask_name
from core.reference import ID_TYPE_LABELS
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


# --- the case: opened with the accounts, moved by calls and the branch manager ----------------------

@account_services.when_opened
def open_case(application: Application, fund_account: FundAccount, note: str) -> ReturnVisitCase:
    """The accounts are open: the customer enters the agents' queue for the first round of calls."""
    now = utcnow()
    case_ = ReturnVisitCase(application_id=application.id, fund_account_id=fund_account.id,
                            status=CaseStatus.AWAITING, round_no=1, branch_id=application.branch_id,
                            entered_at=now, updated_at=now)
    _queue_place(case_, None, now)
    db.session.add(case_)
    db.session.flush()
    db.session.add(ReturnVisitCaseChange(case_id=case_.id, from_status=None, to_status=CaseStatus.AWAITING,
                                         round_no=1, actor_id=None, reason=note))
    return case_


def case_of(application: Application, for_update: bool = False) -> ReturnVisitCase | None:
    query = select(ReturnVisitCase).where(ReturnVisitCase.application_id == application.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _move(case_: ReturnVisitCase, target: CaseStatus, actor: Staff | None, reason: str) -> None:
    rules.check_case_transition(case_.status, target)
    now = utcnow()
    if target == CaseStatus.AWAITING:
        case_.round_no += 1
        case_.entered_at = now
        _queue_place(case_, None, now)  # a new round: not yet called
    elif target == CaseStatus.ESCALATED:
        case_.escalated_at = now
    elif target == CaseStatus.PASSED:
        case_.passed_at = now
    db.session.add(ReturnVisitCaseChange(case_id=case_.id, from_status=case_.status, to_status=target,
                                         round_no=case_.round_no, actor_id=getattr(actor, "id", None),
                                         reason=reason, at=now))
    case_.status, case_.updated_at = target, now


def case_history(case_: ReturnVisitCase | None) -> list[ReturnVisitCaseChange]:
    if case_ is None:
        return []
    return list(db.session.scalars(select(ReturnVisitCaseChange).options(joinedload(ReturnVisitCaseChange.actor))
                                   .where(ReturnVisitCaseChange.case_id == case_.id)
                                   .order_by(ReturnVisitCaseChange.id)))


@progress.after_approval_from
def stages(application_ids: list[int]) -> dict[int, progress.Stage]:
    """Where each approved application's opening stands: its fund account's state, then its case's."""
    found = {}
    rows = db.session.execute(
        select(FundAccount.application_id, FundAccount.status, ReturnVisitCase.status)
        .outerjoin(ReturnVisitCase, ReturnVisitCase.application_id == FundAccount.application_id)
        .where(FundAccount.application_id.in_(application_ids)))
    for application_id, account_status, case_status in rows:
        if account_status == AccountStatus.OPENING:
            found[application_id] = progress.Stage.ACCOUNTS_OPENING
        elif account_status == AccountStatus.FAILED:
            found[application_id] = progress.Stage.OPENING_FAILED
        elif case_status == CaseStatus.AWAITING:
            found[application_id] = progress.Stage.AWAITING_RETURN_VISIT
        elif case_status == CaseStatus.ESCALATED:
            found[application_id] = progress.Stage.ESCALATED
        else:
            found[application_id] = progress.Stage.ACTIVE
    return found


# --- the agents' queue ----------------------------------------------------------------------------

QUEUE_SCOPE, ESCALATED_SCOPE = "return_visit.queue", "return_visit.escalated"


def _queue_place(case_: ReturnVisitCase, last_outcome_in_round: str | None, since) -> None:
    """Keep the case's place in the agents' queue: its tier from the round's last call, waiting since `since`."""
    case_.queue_tier = rules.queue_tier(last_outcome_in_round)
    case_.waiting_since = since


def _in_branch(query, user: Staff, branch_column):
    """The user's branch only (HQ: every branch), on the list's own column so its index serves the order."""
    if user.sees_all_branches:
        return query
    return query.where(branch_column == user.branch_id)


def _cases_page(user: Staff, status: CaseStatus, orders, cursor: str | None, scope: str, size: int):
    """One page of the cases in `status` the user may see, in `orders`, with their applications."""
    query = (opening_services.visible_applications(user).add_columns(ReturnVisitCase)
             .join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id)
             .where(ReturnVisitCase.status == status))
    query = _in_branch(query, user, ReturnVisitCase.branch_id)
    return keyset.paginate(query, orders, cursor, scope=scope, size=size, scalars=False,
                           key=lambda row: tuple(getattr(row.ReturnVisitCase, order.column.key) for order in orders))


def _calls_of(application_ids: list[int]) -> dict[int, list[ReturnVisit]]:
    """Every call of these applications, oldest first, in one query."""
    calls: dict[int, list[ReturnVisit]] = {application_id: [] for application_id in application_ids}
    if application_ids:
        for visit in db.session.scalars(select(ReturnVisit).options(joinedload(ReturnVisit.agent))
                                        .where(ReturnVisit.application_id.in_(application_ids))
                                        .order_by(ReturnVisit.application_id, ReturnVisit.attempt_no)):
            calls[visit.application_id].append(visit)
    return calls


def queue_page(user: Staff, cursor: str | None = None, size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the accounts awaiting a return visit, in the order the agents work them.

    Order: accounts not yet called in this round first, then those reached without passing, then
    those not reached; within each, the longest waiting first (since entering the queue, or since the
    last call). The order is kept on the case, so the page is one index range; the page's calls,
    fund accounts and mobiles come in one query each, and only the shown mobiles are decrypted.
    """
    orders = [keyset.Order(ReturnVisitCase.queue_tier), keyset.Order(ReturnVisitCase.waiting_since),
              keyset.Order(ReturnVisitCase.application_id)]
    found = _cases_page(user, CaseStatus.AWAITING, orders, cursor, QUEUE_SCOPE, size)
    ids = [row.Application.id for row in found.rows]
    calls = _calls_of(ids)
    numbers = fund_account_numbers(ids)
    mobiles = _mobiles_of(row.Application.customer_id for row in found.rows)
    limit = max_attempts()
    rows = []
    for application, case_ in found.rows:
        every = calls[application.id]
        last = every[-1] if every else None
        rows.append({
            "application": application,
            "mobile": mobiles.get(application.customer_id),
            "fund_account": numbers.get(application.id),
            "round_no": case_.round_no,
            "attempts": sum(1 for visit in every if visit.round_no == case_.round_no),
            "max_attempts": limit,
            "last_outcome": OUTCOME_LABELS[Outcome(last.outcome)] if last else None,
            "last_at": last.visited_at if last else None,
            "waiting_since": case_.waiting_since,
        })
    found.rows = rows
    return found


def _mobiles_of(customer_ids) -> dict[int, str | None]:
    """The current mobile of each customer, and nothing else of the profile: one decryption per shown row."""
    ids = {customer_id for customer_id in customer_ids if customer_id}
    if not ids:
        return {}
    return dict(db.session.execute(customer_services.current_profiles()
                                   .with_only_columns(CustomerProfile.customer_id, CustomerProfile.mobile)
                                   .where(CustomerProfile.customer_id.in_(ids))).all())


def fund_account_numbers(application_ids: list[int]) -> dict[int, str]:
    if not application_ids:
        return {}
    return dict(db.session.execute(select(FundAccount.application_id, FundAccount.number)
                                   .where(FundAccount.application_id.in_(application_ids))).all())


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
    case_ = case_of(application)
    round_no = case_.round_no if case_ is not None else 1
    in_round, last_no = db.session.execute(
        select(func.sum(case((ReturnVisit.round_no == round_no, 1), else_=0)), func.max(ReturnVisit.attempt_no))
        .where(ReturnVisit.application_id == application.id)).one()
    return RoundState(round_no=round_no, attempts=in_round or 0, max_attempts=max_attempts(),
                      next_attempt_no=(last_no or 0) + 1)


def last_send_back(application: Application) -> ReturnVisitCaseChange | None:
    """The branch manager's latest send-back of this account to the queue, if any."""
    return db.session.scalar(
        select(ReturnVisitCaseChange).options(joinedload(ReturnVisitCaseChange.actor))
        .join(ReturnVisitCase, ReturnVisitCase.id == ReturnVisitCaseChange.case_id)
        .where(ReturnVisitCase.application_id == application.id,
               ReturnVisitCaseChange.from_status == CaseStatus.ESCALATED,
               ReturnVisitCaseChange.to_status == CaseStatus.AWAITING)
        .order_by(ReturnVisitCaseChange.id.desc()).limit(1))


def fund_account_of(application: Application) -> FundAccount | None:
    return db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))


def reveal_mobile(application: Application) -> None:
    """Audit that the agent was shown the customer's full mobile for the call (the shared 显示完整, core/reveal.py)."""
    customer = db.session.get(Customer, application.customer_id)
    reveal.record_reveal(customer.customer_no, "mobile", application=application.reference)


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
    case_ = case_of(application)
    if case_ is None or case_.status != CaseStatus.AWAITING:
        label = case_.status_label if case_ is not None else progress.of_one(application).label
        return {"outcome": f"该账户当前状态为“{label}”，不在回访队列中"}
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
    visit = ReturnVisit(application_id=application.id, branch_id=application.branch_id,
                        attempt_no=state.next_attempt_no, round_no=state.round_no, agent_id=agent.id, outcome=outcome, items=confirmed, notes=notes.strip() or None)
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

    case_ = case_of(application)
    target = rules.status_after(outcome, state.attempts + 1, state.max_attempts)
    if target == CaseStatus.PASSED:
        _move(case_, CaseStatus.PASSED, agent, "回访通过，账户激活")
        account_services.activate(fund_account_of(application), agent, "回访通过，账户激活")
    elif target == CaseStatus.ESCALATED:
        reason = f"第 {state.round_no} 轮回访 {state.attempts + 1} 次未成功，转营业部负责人处理（最后一次：{visit.outcome_label}"
        reason += f"，{visit.notes}）" if visit.notes else "）"
        _move(case_, CaseStatus.ESCALATED, agent, reason)
    else:
        case_.updated_at = utcnow()  # stays queued, behind the accounts not yet called in this round
        _queue_place(case_, visit.outcome, visit.visited_at)
    audit.record("application.return_visit", "application", application.reference, actor=agent,
                 outcome=outcome, attempt=visit.attempt_no, round=state.round_no, status=target)
    db.session.flush()
    return visit


# --- the branch manager's list --------------------------------------------------------------------

def escalated_page(user: Staff, cursor: str | None = None, size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the accounts whose return visits did not pass within a round, longest waiting for the
    manager first, with every call of each account: the page, then its calls and fund accounts, one query each."""
    orders = [keyset.Order(ReturnVisitCase.escalated_at), keyset.Order(ReturnVisitCase.application_id)]
    found = _cases_page(user, CaseStatus.ESCALATED, orders, cursor, ESCALATED_SCOPE, size)
    ids = [row.Application.id for row in found.rows]
    calls = _calls_of(ids)
    numbers = fund_account_numbers(ids)
    branches = {branch.id: branch for branch in db.session.scalars(
        select(Branch).where(Branch.id.in_({row.Application.branch_id for row in found.rows})))} if ids else {}
    found.rows = [{
        "application": application,
        "branch": branches.get(application.branch_id),
        "fund_account": numbers.get(application.id),
        "escalated_at": case_.escalated_at,
        "round_no": case_.round_no,
        "attempts": calls[application.id],
    } for application, case_ in found.rows]
    return found


def send_back_errors(application: Application, reason: str) -> dict[str, str]:
    """What is wrong with sending this account back to the queue, by form field; empty when it may be."""
    case_ = case_of(application)
    if case_ is None or case_.status != CaseStatus.ESCALATED:
        label = case_.status_label if case_ is not None else progress.of_one(application).label
        return {"reason": f"该账户当前状态为“{label}”，无需退回回访队列"}
    if not reason.strip():
        return {"reason": "请填写退回重新回访的原因"}
    return {}


def send_back(application: Application, manager: Staff, reason: str) -> int:
    """Return the account to the agents' queue for a new round of calls; return the new round's number."""
    errors = send_back_errors(application, reason)
    if errors:
        raise SendBackRefused(errors)
    case_ = case_of(application)
    _move(case_, CaseStatus.AWAITING, manager, reason.strip())
    new_round = case_.round_no
    audit.record("application.return_visit_send_back", "application", application.reference, actor=manager,
                 round=new_round)
    db.session.flush()
    return new_round


# -- the customer page


def panel_for(customer, user) -> dict:
    """The customer's return-visit cases (one per opening) and calls, newest first, in two queries.

    Staff outside HQ see the openings of their own branch. Call notes stay on the case page.
    """
    from sqlalchemy import select

    from blueprints.opening.models import Application
    from blueprints.return_visit.models import OUTCOME_LABELS, ReturnVisit, ReturnVisitCase
    from blueprints.return_visit.rules import CASE_STATUS_LABELS
    from core.extensions import db

    query = (select(ReturnVisitCase, Application.reference).join(Application, Application.id == ReturnVisitCase.application_id)
             .where(Application.customer_id == customer.id))
    if not user.sees_all_branches:
        query = query.where(Application.branch_id == user.branch_id)
    cases = db.session.execute(query.order_by(ReturnVisitCase.id.desc())).all()
    references = {case.application_id: reference for case, reference in cases}
    calls = list(db.session.scalars(select(ReturnVisit).where(ReturnVisit.application_id.in_(list(references)))
                                    .order_by(ReturnVisit.visited_at.desc(), ReturnVisit.id.desc()))) if cases else []
    return {"return_visit_cases": [{"reference": reference, "status": str(case.status),
                                    "status_label": CASE_STATUS_LABELS.get(case.status, case.status),
                                    "round_no": case.round_no, "entered_at": case.entered_at,
                                    "passed_at": case.passed_at} for case, reference in cases],
            "return_visit_calls": [{"reference": references[call.application_id], "attempt_no": call.attempt_no,
                                    "round_no": call.round_no, "outcome_label": OUTCOME_LABELS.get(call.outcome, call.outcome),
                                    "visited_at": call.visited_at, "agent_id": call.agent_id} for call in calls]}
