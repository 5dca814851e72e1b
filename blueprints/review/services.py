"""Review operations: the inbox, claims (认领), who may decide, and the decision itself.

A reviewer takes (认领) an application before deciding; while the claim runs (REVIEW_CLAIM_MINUTES,
30 by default) nobody else may take or decide it. Deciding does not need an explicit take: approve and
reject take the claim implicitly when it is free (or already the reviewer's) and end it with the
decision, so a reviewer who opens an application and decides at once is never slowed down, and a
same-terminal reviewer (同机复核) is never blocked by their own claim.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from blueprints.accounts import services as account_services
from blueprints.customers import services as customer_services
from blueprints.auth.models import Branch, Staff
from blueprints.opening import services as opening_services
from blueprints.opening import documents, presenters, workflow
from blueprints.opening.models import Application, ApplicationStep
from blueprints.opening.workflow import Status
from blueprints.review.models import ReviewClaim, ReviewDecision
from core import audit, keyset
from core.extensions import db
from core.roles import OPENING_ROLES, Role
from core.timeutil import beijing_day_start, to_beijing, utcnow

IN_REVIEW = (Status.SUBMITTED, Status.RESUBMITTED)
DEFAULT_CLAIM_MINUTES = 30
DEFAULT_PAGE_SIZE = 20


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
        return decided_message(application)
    claim = claim_of_other(application, reviewer)
    if claim is not None:
        return held_message(claim)
    return None


def host_refusal(application: Application, operator: Staff) -> str | None:
    """Why `operator`'s session may not host the same-terminal review of this application, or None.

    Only the staff member who entered the application (the counter clerk, or the witness staff of a
    witness opening) hosts it on their own screen: anyone else could make a reviewer type their password
    on a screen the reviewer has no reason to trust, or keep trying a reviewer's password.
    """
    if operator.role not in OPENING_ROLES or operator.id != application.created_by_id:
        return "只有录入该申请的经办人员可以在本机发起同机复核"
    return None


def decided_message(application: Application) -> str | None:
    """The Chinese message when this submission needs no decision any more (decided, or not in review)."""
    decided = latest_decision(application)
    if application.status in IN_REVIEW and (decided is None or decided.submission_no != application.submission_no):
        return None
    if decided is not None and decided.submission_no == application.submission_no:
        verb = "通过" if decided.decision == "approve" else "退回"
        return f"该申请已由{decided.reviewer.full_name}于{to_beijing(decided.decided_at):%m-%d %H:%M}{verb}，无需重复复核"
    return f"该申请当前状态为“{application.status_label}”，不能复核"


# --- claims (认领) --------------------------------------------------------------------------------

def claim_minutes() -> int:
    return int(current_app.config.get("REVIEW_CLAIM_MINUTES", DEFAULT_CLAIM_MINUTES))


def active_claim(application: Application, now: datetime | None = None) -> ReviewClaim | None:
    """The claim on this application that has not expired, whoever holds it."""
    return db.session.scalar(select(ReviewClaim).where(ReviewClaim.application_id == application.id,
                                                       ReviewClaim.expires_at > (now or utcnow()))
                             .execution_options(populate_existing=True))


def claim_of_other(application: Application, reviewer: Staff) -> ReviewClaim | None:
    """A running claim of someone other than `reviewer`: it blocks their take and their decision."""
    claim = active_claim(application)
    return claim if claim is not None and claim.reviewer_id != reviewer.id else None


def held_message(claim: ReviewClaim) -> str:
    return (f"该申请已由{claim.reviewer.full_name}于{to_beijing(claim.claimed_at):%m-%d %H:%M}认领复核"
            f"（{to_beijing(claim.expires_at):%H:%M}前有效），其他复核人员不能认领或作出结论")


def _hold(application: Application, reviewer: Staff) -> bool:
    """Take or renew the claim if it is free, expired or already the reviewer's; False when another holds it.

    A conditional UPDATE takes an existing row only when it is expired or the reviewer's own; with no
    row, the INSERT of a concurrent taker collides on the unique application key. Either way exactly one
    of two reviewers taking at once wins, on SQLite and on PostgreSQL.
    """
    now = utcnow()
    until = now + timedelta(minutes=claim_minutes())
    taken = db.session.execute(
        update(ReviewClaim)
        .where(ReviewClaim.application_id == application.id,
               or_(ReviewClaim.expires_at <= now, ReviewClaim.reviewer_id == reviewer.id))
        .values(reviewer_id=reviewer.id, expires_at=until,
                # Renewing keeps "since when"; taking over an expired claim starts anew.
                claimed_at=case((ReviewClaim.reviewer_id == reviewer.id, ReviewClaim.claimed_at), else_=now))
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        return True
    try:
        with db.session.begin_nested():
            db.session.add(ReviewClaim(application_id=application.id, reviewer_id=reviewer.id,
                                       claimed_at=now, expires_at=until))
    except IntegrityError:
        return False
    return True


def take(application: Application, reviewer: Staff) -> ReviewClaim:
    """Take the application for review (认领), or renew one's own claim."""
    refused = refusal_reason(application, reviewer)
    if refused:
        raise DecisionRefused(refused)
    if not _hold(application, reviewer):
        claim = active_claim(application)
        raise DecisionRefused(held_message(claim) if claim else "该申请刚被其他复核人员认领，请刷新查看")
    claim = active_claim(application)
    audit.record("application.claim", "application", application.reference, actor=reviewer,
                 until=claim.expires_at.isoformat(timespec="seconds"))
    db.session.flush()
    return claim


def release(application: Application, reviewer: Staff) -> None:
    """Give the application back to the inbox (释放); only the holder can."""
    released = db.session.execute(
        delete(ReviewClaim).where(ReviewClaim.application_id == application.id,
                                  ReviewClaim.reviewer_id == reviewer.id, ReviewClaim.expires_at > utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not released:
        claim = active_claim(application)
        raise DecisionRefused(held_message(claim) if claim else "您没有认领该申请（或认领已过期），无需释放")
    audit.record("application.release", "application", application.reference, actor=reviewer)
    db.session.flush()


def _end_claim(application: Application) -> None:
    db.session.execute(delete(ReviewClaim).where(ReviewClaim.application_id == application.id)
                       .execution_options(synchronize_session=False))


# --- the inbox -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxFilters:
    """What the reviewer narrowed the inbox to; None or "" means any."""

    status: str | None = None
    channel: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    returned: bool | None = None  # True: has an earlier rejection; False: first review
    branch_id: int | None = None  # honoured for HQ users only
    reference: str = ""


@dataclass(frozen=True)
class InboxRow:
    application: Application
    claim: ReviewClaim | None
    returned_before: bool


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None  # the next page's keyset cursor; None on the last page
    first: bool
    per_page: int
    counts: dict[str, int]  # by status, under every filter but the status one, at most COUNT_CAP each
    capped: bool = False  # some status has more than COUNT_CAP applications: its count reads "COUNT_CAP+"

    @property
    def all_statuses(self) -> int:
        return sum(self.counts.values())




def _has_rejection():
    return exists().where(ReviewDecision.application_id == Application.id, ReviewDecision.decision == "reject")


def _conditions(user: Staff, filters: InboxFilters) -> list:
    """The WHERE conditions of the filters, except the status one, for the database to apply."""
    conditions = [Application.status.in_(IN_REVIEW)]
    if filters.channel:
        conditions.append(Application.channel == filters.channel)
    if filters.submitted_from:
        conditions.append(Application.submitted_at >= beijing_day_start(filters.submitted_from))
    if filters.submitted_to:
        conditions.append(Application.submitted_at < beijing_day_start(filters.submitted_to + timedelta(days=1)))
    if filters.returned is True:
        conditions.append(_has_rejection())
    elif filters.returned is False:
        conditions.append(~_has_rejection())
    if filters.branch_id and user.sees_all_branches:
        conditions.append(Application.branch_id == filters.branch_id)
    term = (filters.reference or "").strip().upper()
    if term:
        conditions.append(Application.reference.contains(term, autoescape=True))
    return conditions


def filter_branches(user: Staff) -> list[Branch]:
    """The branches an HQ reviewer may narrow the inbox to; none for a branch's own reviewer."""
    if not user.sees_all_branches:
        return []
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False)).order_by(Branch.code)))


def page_size() -> int:
    return int(current_app.config.get("REVIEW_INBOX_PAGE_SIZE", DEFAULT_PAGE_SIZE))


INBOX_SCOPE = "review.inbox"
# The counts stop at this many per status, so that a long queue costs what a short one does.
COUNT_CAP = 1000


def inbox(user: Staff, filters: InboxFilters = InboxFilters(), cursor: str | None = None) -> InboxPage:
    """One page of the applications waiting for review that match the filters, oldest submission first.

    Each status's page is one range of its index (status, branch, submitted at, id); the pages of
    the statuses asked for are merged here, so the database never sorts the whole queue.
    """
    conditions = _conditions(user, filters)
    visible = opening_services.visible_applications(user).where(*conditions)
    counts = {status: db.session.scalar(select(func.count()).select_from(
        visible.where(Application.status == status).with_only_columns(Application.id).limit(COUNT_CAP + 1)
        .subquery())) for status in IN_REVIEW}
    capped = any(count > COUNT_CAP for count in counts.values())
    counts = {status: min(count, COUNT_CAP) for status, count in counts.items()}
    statuses = [filters.status] if filters.status in IN_REVIEW else list(IN_REVIEW)
    per_page = page_size()
    returned = _has_rejection().label("returned_before")
    orders = [keyset.Order(Application.submitted_at), keyset.Order(Application.id)]

    def sort_key(row):
        return row.Application.submitted_at, row.Application.id

    pages = [keyset.paginate(visible.where(Application.status == status).add_columns(returned)
                             .options(joinedload(Application.created_by)),
                             orders, cursor, scope=INBOX_SCOPE, key=sort_key, size=per_page, scalars=False)
             for status in statuses]
    merged = sorted((row for found in pages for row in found.rows), key=sort_key)
    more = len(merged) > per_page or any(found.next_cursor for found in pages)
    rows = merged[:per_page]
    next_cursor = keyset.encode_cursor(sort_key(rows[-1]), INBOX_SCOPE) if more and rows else None
    first = keyset.decode_cursor(cursor, INBOX_SCOPE, len(orders)) is None
    claims = _claims_of([application.id for application, _returned in rows])
    return InboxPage(rows=[InboxRow(application, claims.get(application.id), bool(was_returned))
                           for application, was_returned in rows],
                     next_cursor=next_cursor, first=first, per_page=per_page, counts=counts, capped=capped)


def _claims_of(application_ids: list[int]) -> dict[int, ReviewClaim]:
    if not application_ids:
        return {}
    return {claim.application_id: claim for claim in db.session.scalars(
        select(ReviewClaim).where(ReviewClaim.application_id.in_(application_ids), ReviewClaim.expires_at > utcnow()))}


@dataclass(frozen=True)
class InboxSummary:
    """For the home page: how many applications wait for review and since when the oldest."""

    count: int
    oldest_submitted_at: datetime | None


def inbox_summary(user: Staff) -> InboxSummary:
    """The number of applications waiting for `user`'s review and the oldest submission time (UTC)."""
    count, oldest = db.session.execute(
        opening_services.visible_applications(user).where(Application.status.in_(IN_REVIEW))
        .with_only_columns(func.count(Application.id), func.min(Application.submitted_at))).one()
    return InboxSummary(count=count, oldest_submitted_at=oldest)


@opening_services.rejections_from
def latest_decision(application: Application) -> ReviewDecision | None:
    return db.session.scalar(select(ReviewDecision).where(ReviewDecision.application_id == application.id)
                             .order_by(ReviewDecision.id.desc()).limit(1))


@opening_services.many_rejections_from
def latest_decisions(application_ids: list[int]) -> dict[int, ReviewDecision]:
    """latest_decision() of many applications in one query, by application id."""
    latest = (select(func.max(ReviewDecision.id)).where(ReviewDecision.application_id.in_(application_ids))
              .group_by(ReviewDecision.application_id))
    return {d.application_id: d for d in db.session.scalars(select(ReviewDecision).where(ReviewDecision.id.in_(latest)))}


@presenters.contributes("decisions")
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


def _hold_or_refuse(application: Application, reviewer: Staff) -> None:
    """Deciding takes the claim implicitly; it is refused while another reviewer holds it."""
    if not _hold(application, reviewer):
        claim = active_claim(application)
        raise DecisionRefused(held_message(claim) if claim else "该申请刚被其他复核人员认领，请刷新查看")


def approve(application: Application, reviewer: Staff, operator: Staff) -> ReviewDecision:
    """Approve: record the decision, then open the accounts (requests go out via the outbox)."""
    reason = refusal_reason(application, reviewer)
    if reason:
        raise DecisionRefused(reason)
    blockers = documents.approval_blockers(application)
    if blockers:
        raise DecisionRefused("；".join(blockers))
    _hold_or_refuse(application, reviewer)
    record = _record(application, reviewer, operator, "approve", None, None)
    _end_claim(application)
    documents.accept_pending(application, reviewer)
    opening_services.transition(application, Status.APPROVED, reviewer, reason="复核通过")
    customer = customer_services.enroll(application, reviewer)
    opening_services.link_to_customer(application, customer.id)
    agreements = application.step_data("agreements") or {}
    account_services.open_accounts(application, customer, reviewer, agreements["bank_code"], agreements["bank_card"])
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
    _hold_or_refuse(application, reviewer)
    record = _record(application, reviewer, operator, "reject", reason.strip(), return_step)
    _end_claim(application)
    opening_services.transition(application, Status.REJECTED, reviewer, reason=reason.strip())
    audit.record("application.reject", "application", application.reference, actor=reviewer,
                 operator=operator.username, same_terminal=record.same_terminal, return_step=return_step)
    db.session.flush()
    return record
