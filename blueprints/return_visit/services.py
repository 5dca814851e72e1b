"""Return-visit operations: the queue, recording a call, and activation."""
from sqlalchemy import func, select

from blueprints.accounts.models import AccountStatus, FundAccount, SecuritiesAccount
from blueprints.auth.models import Staff
from blueprints.opening import services as opening_services
from blueprints.opening.models import Application
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
    """Accounts awaiting a return visit, the longest-waiting first."""
    return list(db.session.scalars(
        opening_services.visible_applications(user)
        .where(Application.status == Status.AWAITING_RETURN_VISIT)
        .order_by(Application.updated_at)
    ))


def required_items(application: Application) -> list[str]:
    """The 第十一条 items this call must cover: the agent item only where an agent opened."""
    has_agent = bool((application.step_data("agent") or {}).get("has_agent"))
    return [key for key in CHECK_ITEMS if key != "agent" or has_agent]


def attempts(application: Application) -> list[ReturnVisit]:
    return list(db.session.scalars(select(ReturnVisit).where(ReturnVisit.application_id == application.id)
                                   .order_by(ReturnVisit.id)))


def record_visit(application: Application, agent: Staff, outcome: str, items: list[str], notes: str,
                 recording: StoredFile | None = None, recording_name: str | None = None) -> ReturnVisit:
    """Record one call; passed activates the accounts, failed or refused leaves them inactive."""
    if application.status != Status.AWAITING_RETURN_VISIT:
        raise VisitRefused({"outcome": f"该账户当前状态为“{application.status_label}”，不在回访队列中"})
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise VisitRefused({"outcome": "请选择回访结果"}) from None
    needed = required_items(application)
    confirmed = [item for item in needed if item in items]
    if outcome == Outcome.PASSED and len(confirmed) != len(needed):
        missing = "、".join(CHECK_ITEMS[item] for item in needed if item not in confirmed)
        raise VisitRefused({"items": f"回访通过须逐项确认：{missing}"})
    if outcome in (Outcome.FAILED, Outcome.REFUSED) and not notes.strip():
        raise VisitRefused({"notes": "回访未通过或客户拒绝时，须填写原因"})
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
