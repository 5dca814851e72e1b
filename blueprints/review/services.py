"""Review operations: the queue, who may decide, and the decision itself."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blueprints.accounts import services as account_services
from blueprints.auth.models import Staff
from blueprints.opening import services as opening_services
from blueprints.opening import workflow
from blueprints.opening.models import Application, ApplicationStep
from blueprints.opening.workflow import Status
from blueprints.review.models import ReviewDecision
from core import audit
from core.extensions import db
from core.roles import Role
from core.timeutil import to_beijing

IN_REVIEW = (Status.SUBMITTED, Status.RESUBMITTED)


class DecisionRefused(Exception):
    """The decision cannot be taken; the message says why, in Chinese."""


def queue(user: Staff) -> list[Application]:
    """Applications waiting for review in the reviewer's branch (all branches for HQ), oldest first."""
    return list(db.session.scalars(
        opening_services.visible_applications(user)
        .where(Application.status.in_(IN_REVIEW))
        .order_by(Application.submitted_at)
    ))


def makers(application: Application) -> set[int]:
    """Everyone who entered or edited the application: none of them may review it."""
    editors = set(db.session.scalars(select(ApplicationStep.saved_by_id)
                                     .where(ApplicationStep.application_id == application.id)))
    return editors | {application.created_by_id}


def refusal_reason(application: Application, reviewer: Staff) -> str | None:
    """Why `reviewer` may not decide this application now, or None if they may."""
    if reviewer.role != Role.REVIEWER:
        return "只有复核岗可以复核开户申请"
    if not reviewer.sees_all_branches and reviewer.branch_id != application.branch_id:
        return "只能复核本营业部的开户申请"
    if reviewer.id in makers(application):
        return "您录入或修改过该申请，不能复核自己经办的业务"
    if application.status not in IN_REVIEW:
        decided = latest_decision(application)
        if decided is not None and decided.submission_no == application.submission_no:
            verb = "通过" if decided.decision == "approve" else "退回"
            return f"该申请已由{decided.reviewer.full_name}于{to_beijing(decided.decided_at):%m-%d %H:%M}{verb}，无需重复复核"
        return f"该申请当前状态为“{application.status_label}”，不能复核"
    return None


def latest_decision(application: Application) -> ReviewDecision | None:
    return db.session.scalar(select(ReviewDecision).where(ReviewDecision.application_id == application.id)
                             .order_by(ReviewDecision.id.desc()).limit(1))


def decisions(application: Application) -> list[ReviewDecision]:
    return list(db.session.scalars(select(ReviewDecision).where(ReviewDecision.application_id == application.id)
                                   .order_by(ReviewDecision.id)))


def _record(application: Application, reviewer: Staff, operator: Staff, decision: str, reason: str | None,
            return_step: str | None) -> ReviewDecision:
    record = ReviewDecision(application_id=application.id, submission_no=application.submission_no,
                            decision=decision, reason=reason, return_step=return_step,
                            reviewer_id=reviewer.id, operator_id=operator.id, same_terminal=reviewer.id != operator.id)
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        # Another reviewer's decision on this submission committed first.
        raise DecisionRefused("该申请已由其他复核人员处理，请刷新查看结果") from None
    return record


def approve(application: Application, reviewer: Staff, operator: Staff) -> ReviewDecision:
    """Approve: record the decision, then open the accounts (requests go out via the outbox)."""
    reason = refusal_reason(application, reviewer)
    if reason:
        raise DecisionRefused(reason)
    record = _record(application, reviewer, operator, "approve", None, None)
    opening_services.transition(application, Status.APPROVED, reviewer, reason="复核通过")
    account_services.open_accounts(application, reviewer)
    opening_services.transition(application, Status.ACCOUNTS_OPENING, None, reason="已向中国结算、存管银行发送开户请求")
    audit.record("application.approve", "application", application.reference, actor=reviewer,
                 operator=operator.username, same_terminal=record.same_terminal)
    db.session.flush()
    return record


def reject(application: Application, reviewer: Staff, operator: Staff, reason: str, return_step: str) -> ReviewDecision:
    """Return the application to the clerk with the reason and the step to correct."""
    refused = refusal_reason(application, reviewer)
    if refused:
        raise DecisionRefused(refused)
    if not reason.strip():
        raise DecisionRefused("退回须填写原因")
    if not workflow.is_returnable(application.channel, return_step):
        # The form offers only the channel's steps; this also stops a hand-made request.
        raise DecisionRefused("请选择需要修改的步骤（只能退回到本开户方式的录入步骤）")
    record = _record(application, reviewer, operator, "reject", reason.strip(), return_step)
    opening_services.transition(application, Status.REJECTED, reviewer, reason=reason.strip())
    audit.record("application.reject", "application", application.reference, actor=reviewer,
                 operator=operator.username, same_terminal=record.same_terminal, return_step=return_step)
    db.session.flush()
    return record
