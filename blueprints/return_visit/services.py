"""Return-visit operations: the queue, recording a call, and activation."""
from sqlalchemy import func, select

from blueprints.accounts.models import AccountStatus, FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application, StatusChange
from blueprints.opening.workflow import Status
from blueprints.return_visit.models import CHECK_ITEMS, Outcome, ReturnVisit
from core import audit
from core.extensions import db
from core.files import StoredFile
from core.timeutil import utcnow


class VisitRefused(Exception):
    """The visit cannot be recorded as given; `errors` maps field names to Chinese messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def queue(user: Staff) -> list[Application]:
    """Accounts awaiting a return visit, in the order they were submitted."""
    return list(db.session.scalars(
        opening_services.visible_applications(user)
        .where(Application.status == Status.AWAITING_RETURN_VISIT)
        .order_by(Application.submitted_at, Application.id)
    ))


def fund_account_numbers(application_ids: list[int]) -> dict[int, str]:
    if not application_ids:
        return {}
    return dict(db.session.execute(select(FundAccount.application_id, FundAccount.number)
                                   .where(FundAccount.application_id.in_(application_ids))).all())


def queue_rows(user: Staff) -> list[dict]:
    """The queue with what the agent scans it for, read in three queries for the whole list."""
    applications = queue(user)
    ids = [application.id for application in applications]
    numbers = fund_account_numbers(ids)
    since = dict(db.session.execute(
        select(StatusChange.application_id, func.max(StatusChange.at))
        .where(StatusChange.application_id.in_(ids), StatusChange.to_status == Status.AWAITING_RETURN_VISIT)
        .group_by(StatusChange.application_id)).all()) if ids else {}
    counts = dict(db.session.execute(
        select(ReturnVisit.application_id, func.count())
        .where(ReturnVisit.application_id.in_(ids)).group_by(ReturnVisit.application_id)).all()) if ids else {}
    return [{
        "application": application,
        "mobile": (application.step_data("contact") or {}).get("mobile"),
        "fund_account": numbers.get(application.id),
        "waiting_since": since.get(application.id, application.updated_at),
        "attempts": counts.get(application.id, 0),
    } for application in applications]


def required_items(application: Application) -> list[str]:
    """The 第十一条 items this call must cover: the agent item only where an agent opened."""
    has_agent = bool((application.step_data("agent") or {}).get("has_agent"))
    return [key for key in CHECK_ITEMS if key != "agent" or has_agent]


def attempts(application: Application) -> list[ReturnVisit]:
    return list(db.session.scalars(select(ReturnVisit).where(ReturnVisit.application_id == application.id)
                                   .order_by(ReturnVisit.id)))


def visit_errors(application: Application, outcome: str, items: list[str], notes: str) -> dict[str, str]:
    """What is wrong with recording this call as given, by form field; empty when it may be recorded."""
    if application.status != Status.AWAITING_RETURN_VISIT or fund_account_numbers([application.id]) == {}:
        return {"outcome": f"该账户当前状态为“{application.status_label}”，不在回访队列中"}
    if outcome not in set(Outcome):
        return {"outcome": "请选择回访结果"}
    needed = required_items(application)
    if outcome == Outcome.PASSED and any(item not in items for item in needed):
        missing = "、".join(CHECK_ITEMS[item] for item in needed if item not in items)
        return {"items": f"回访通过须逐项确认：{missing}"}
    if outcome in (Outcome.FAILED, Outcome.REFUSED) and not notes.strip():
        return {"notes": "回访未通过或客户拒绝时，须填写原因"}
    return {}


def record_visit(application: Application, agent: Staff, outcome: str, items: list[str], notes: str,
                 recording: StoredFile | None = None, recording_name: str | None = None) -> ReturnVisit:
    """Record one call; passed activates the accounts, failed or refused leaves them inactive."""
    errors = visit_errors(application, outcome, items, notes)
    if errors:
        raise VisitRefused(errors)
    outcome = Outcome(outcome)
    confirmed = [item for item in required_items(application) if item in items]
    attempt_no = (db.session.scalar(select(func.count()).select_from(ReturnVisit)
                                    .where(ReturnVisit.application_id == application.id)) or 0) + 1
    visit = ReturnVisit(application_id=application.id, attempt_no=attempt_no, agent_id=agent.id, outcome=outcome,
                        items=confirmed, notes=notes.strip() or None)
    if recording is not None:
        visit.recording_sha256, visit.recording_mime, visit.recording_size = recording.sha256, recording.mime, recording.size
        visit.recording_name = (recording_name or "recording")[:120]
    db.session.add(visit)
    fund_account = db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))
    if outcome == Outcome.PASSED:
        opening_services.transition(application, Status.ACTIVE, agent, reason="回访通过，账户激活")
        fund_account.status = AccountStatus.ACTIVE
        fund_account.activated_at = utcnow()
        for account in db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.fund_account_id == fund_account.id)):
            account.status = AccountStatus.ACTIVE
    elif outcome in (Outcome.FAILED, Outcome.REFUSED):
        opening_services.transition(application, Status.INACTIVE, agent, reason=notes.strip())
    else:
        application.updated_at = utcnow()  # not reached: stays queued, behind those not yet tried
    audit.record("application.return_visit", "application", application.reference, actor=agent,
                 outcome=outcome, attempt=attempt_no)
    db.session.flush()
    return visit
