"""The work waiting for each role, counted by the database for the home page (工作台).

Each summary is one small GROUP BY query over the owners' tables (applications, outbox
messages, return visits, exports, the lending register), kept here and named for what it
counts, so it can later be swapped for a summary from the owning blueprint.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import exists, func, literal, select, union_all

from blueprints.accounts import exceptions
from blueprints.accounts.exceptions import State
from blueprints.accounts.models import AccountStatus, FundAccount
from blueprints.archive.models import ExportJob, ExportStatus, LendingRecord
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer
from blueprints.home.indexes import rare
from blueprints.opening.models import Application, StatusChange
from blueprints.opening.workflow import Status
from blueprints.return_visit.models import Outcome, ReturnVisit, ReturnVisitCase
from blueprints.return_visit.rules import CaseStatus
from blueprints.review.models import ReviewDecision
from core.extensions import db
from core.outbox import OutboxMessage
from core.timeutil import BEIJING, business_today, utcnow

PASS_RATE_DAYS = 30
LIST_LIMIT = 200
LENDING_DAYS = 7
CHANNELS = ("onsite", "witness")

# The application queues the home page counts before approval, by the statuses that put an
# application in them; after approval the accounts and the return visit carry it (see _queue).
QUEUE_STATUSES: dict[str, tuple[Status, ...]] = {
    "drafts": (Status.DRAFT,),
    "returned": (Status.REJECTED,),
    "in_review": (Status.SUBMITTED, Status.RESUBMITTED),
}
# A clerk's or witness's own applications, from draft to the return visit.
MY_QUEUES = ("drafts", "returned", "in_review", "accounts_opening", "return_visit")
# The branch's queues a manager watches.
BRANCH_QUEUES = ("in_review", "return_visit", "accounts_opening")


@dataclass(frozen=True)
class Waiting:
    """A queue's size and its oldest item (an application reference, or an outbox message id)."""

    count: int = 0
    oldest_at: datetime | None = None
    oldest_reference: str | None = None
    oldest_message_id: int | None = None
    oldest_branch_id: int | None = None


@dataclass
class BranchFigures:
    """One branch's line in the HQ breakdown (and the manager's own figures)."""

    branch: Branch | None
    queues: dict[str, Waiting] = field(default_factory=dict)
    exceptions: dict[str, Waiting] = field(default_factory=dict)
    openings_today: dict[str, int] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)

    @property
    def openings_total(self) -> int:
        return sum(self.openings_today.values())

    @property
    def visits_total(self) -> int:
        return sum(self.visits.values())

    @property
    def pass_rate(self) -> float | None:
        return pass_rate(self.visits)


def branch_scope(user: Staff, column) -> list:
    """The condition that keeps `column` to the user's branch (none for HQ)."""
    return [] if user.sees_all_branches else [column == user.branch_id]


def _entered_current_status():
    """When an application entered its current status: its last transition there, or its creation (a draft)."""
    entered = (select(func.max(StatusChange.at))
               .where(StatusChange.application_id == Application.id, StatusChange.to_status == Application.status)
               .correlate(Application).scalar_subquery())
    return func.coalesce(entered, Application.created_at)


def _queue(key: str, *columns):
    """The applications in one queue with `columns` and since when each has waited there.

    Before approval the application's status puts it in a queue; after it, its fund account
    being opened (账户开立中), then its return-visit case awaiting calls (待回访).
    """
    if key == "accounts_opening":
        return (select(*columns, FundAccount.opened_at.label("since")).select_from(Application)
                .join(FundAccount, FundAccount.application_id == Application.id)
                .where(rare(FundAccount.status == AccountStatus.OPENING)))
    if key == "return_visit":
        return (select(*columns, ReturnVisitCase.entered_at.label("since")).select_from(Application)
                .join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id)
                .where(rare(ReturnVisitCase.status == CaseStatus.AWAITING)))
    return (select(*columns, _entered_current_status().label("since")).select_from(Application)
            .where(rare(Application.status.in_(QUEUE_STATUSES[key]))))


def application_queue_counts(keys: tuple[str, ...], *where) -> dict[int, dict[str, Waiting]]:
    """Per branch and queue: how many applications, and since when the oldest has waited."""
    rows = union_all(*[_queue(key, Application.branch_id.label("branch_id"), literal(key).label("queue"))
                       .where(*where) for key in keys]).subquery()
    result: dict[int, dict[str, Waiting]] = {}
    for branch_id, key, count, oldest in db.session.execute(
            select(rows.c.branch_id, rows.c.queue, func.count(), func.min(rows.c.since))
            .group_by(rows.c.branch_id, rows.c.queue)):
        result.setdefault(branch_id, {})[key] = Waiting(count, oldest)
    return result


def oldest_application(key: str, *where) -> tuple[str, datetime, int] | None:
    """The application that has waited longest in one queue: its reference, since when, its branch."""
    rows = _queue(key, Application.reference, Application.id, Application.branch_id).where(*where).subquery()
    row = db.session.execute(select(rows.c.reference, rows.c.since, rows.c.branch_id)
                             .order_by(rows.c.since, rows.c.id).limit(1)).first()
    return tuple(row) if row else None


def _merge(per_branch: dict[int, dict[str, Waiting]], keys) -> dict[str, Waiting]:
    """Add the branches' counts up; the oldest is the oldest of any branch."""
    merged = {}
    for key in keys:
        found = [queues[key] for queues in per_branch.values() if key in queues]
        merged[key] = Waiting(sum(w.count for w in found), min((w.oldest_at for w in found), default=None))
    return merged


def _with_oldest(summary: dict[str, Waiting], *where) -> dict[str, Waiting]:
    """Name the oldest application of every non-empty queue."""
    named = {}
    for key, waiting in summary.items():
        oldest = oldest_application(key, *where) if waiting.count else None
        named[key] = Waiting(waiting.count, oldest[1], oldest[0], None, oldest[2]) if oldest else waiting
    return named


def my_queues(user: Staff) -> dict[str, Waiting]:
    """A clerk's or witness's own applications per queue, with the oldest of each."""
    mine = (Application.created_by_id == user.id,)
    return _with_oldest(_merge(application_queue_counts(MY_QUEUES, *mine), MY_QUEUES), *mine)


def returned_to(user: Staff, limit: int = 3) -> list[tuple[str, str | None, datetime]]:
    """The user's returned applications, longest waiting first, with the reviewer's reason."""
    latest = (select(func.max(ReviewDecision.id)).where(ReviewDecision.application_id == Application.id)
              .correlate(Application).scalar_subquery())
    rows = db.session.execute(
        select(Application.reference, ReviewDecision.reason, ReviewDecision.decided_at)
        .join(ReviewDecision, ReviewDecision.id == latest)
        .where(Application.created_by_id == user.id, Application.status == Status.REJECTED)
        .order_by(ReviewDecision.decided_at, Application.id).limit(limit)).all()
    return [tuple(row) for row in rows]


def branch_counts(user: Staff) -> tuple[dict, dict]:
    """Per branch of the user's scope: the queue counts and the exception counts, counted once for the
    manager's page, whose tiles and per-branch lines both read them."""
    scope = branch_scope(user, Application.branch_id)
    return application_queue_counts(BRANCH_QUEUES, *scope), exception_counts(*scope)


def branch_queues(user: Staff, keys: tuple[str, ...] = BRANCH_QUEUES, per_branch: dict | None = None) -> dict[str, Waiting]:
    """The queues of the user's branch (all branches for HQ), with the oldest of each."""
    scope = branch_scope(user, Application.branch_id)
    if per_branch is None:
        per_branch = application_queue_counts(keys, *scope)
    return _with_oldest(_merge(per_branch, keys), *scope)


def called_not_reached(user: Staff) -> int:
    """Accounts awaiting a return visit that have been called at least once without success."""
    return db.session.scalar(select(func.count()).select_from(Application)
                             .join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id).where(
        rare(ReturnVisitCase.status == CaseStatus.AWAITING),
        exists(select(ReturnVisit.id).where(ReturnVisit.application_id == Application.id,
                                            ReturnVisit.outcome != "passed")),
        *branch_scope(user, Application.branch_id))) or 0


def exception_counts(*where) -> dict[int, dict[str, Waiting]]:
    """Per branch: refused requests waiting for a person, and requests that keep failing."""
    state = exceptions.state_column()
    rows = (select(Application.branch_id.label("branch_id"), state.label("state"),
                   exceptions.waiting_since_column().label("since"))
            .select_from(OutboxMessage).join(Application, OutboxMessage.application_id == Application.id)
            .where(state.in_((State.REJECTED.value, State.FAILING.value)), *where).subquery())
    result: dict[int, dict[str, Waiting]] = {}
    for branch_id, key, count, oldest in db.session.execute(
            select(rows.c.branch_id, rows.c.state, func.count(), func.min(rows.c.since))
            .group_by(rows.c.branch_id, rows.c.state)):
        result.setdefault(branch_id, {})[key] = Waiting(count, oldest)
    return result


def oldest_exception(key: str, *where) -> tuple[int, str, datetime, int] | None:
    """The message that has waited longest in one exception state: its id, application, since when, branch."""
    since = exceptions.waiting_since_column()
    row = db.session.execute(
        select(OutboxMessage.id, Application.reference, since, Application.branch_id)
        .join(Application, OutboxMessage.application_id == Application.id)
        .where(exceptions.state_column() == key, *where).order_by(since, OutboxMessage.id).limit(1)).first()
    return tuple(row) if row else None


def branch_exceptions(user: Staff, per_branch: dict | None = None) -> dict[str, Waiting]:
    scope = branch_scope(user, Application.branch_id)
    keys = (State.REJECTED.value, State.FAILING.value)
    merged = _merge(exception_counts(*scope) if per_branch is None else per_branch, keys)
    named = {}
    for key, waiting in merged.items():
        oldest = oldest_exception(key, *scope) if waiting.count else None
        named[key] = Waiting(waiting.count, oldest[2], oldest[1], oldest[0], oldest[3]) if oldest else waiting
    return named


def beijing_day_in_utc(day: date) -> tuple[datetime, datetime]:
    """The stored (naive UTC) bounds of one Beijing calendar day."""
    start = datetime.combine(day, time.min, tzinfo=BEIJING).astimezone(timezone.utc).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def openings_query(start: datetime, end: datetime, *columns, where: tuple = ()):
    """Fund accounts opened in [start, end) (stored UTC), failed ones left out.

    The channel is the fund account's own copy of the application's, so the count is one range of
    ix_fund_account_opened_at_channel with no lookup per account.
    """
    return (select(*columns).select_from(FundAccount)
            .where(FundAccount.opened_at >= start, FundAccount.opened_at < end,
                   FundAccount.status != AccountStatus.FAILED, *where))


def openings_by_channel(day: date | None = None, where: tuple = ()) -> dict[int, dict[str, int]]:
    """Per branch and channel: fund accounts opened on a Beijing day (today by default), failed ones left out."""
    start, end = beijing_day_in_utc(day or business_today())
    result: dict[int, dict[str, int]] = {}
    for branch_id, channel, count in db.session.execute(
            openings_query(start, end, FundAccount.branch_id, FundAccount.channel, func.count(), where=where)
            .group_by(FundAccount.branch_id, FundAccount.channel)):
        result.setdefault(branch_id, {})[channel] = count
    return result


def visit_outcomes_between(start: datetime, end: datetime | None = None, where: tuple = ()) -> dict[int, dict[str, int]]:
    """Per branch and outcome: return-visit attempts recorded in [start, end) (stored UTC).

    `where` is on ReturnVisit.branch_id (the visit's copy of its application's branch): one range of
    ix_return_visit_visited_at_branch with no lookup per visit.
    """
    until = () if end is None else (ReturnVisit.visited_at < end,)
    result: dict[int, dict[str, int]] = {}
    for branch_id, outcome, count in db.session.execute(
            select(ReturnVisit.branch_id, ReturnVisit.outcome, func.count())
            .where(ReturnVisit.visited_at >= start, *until, *where)
            .group_by(ReturnVisit.branch_id, ReturnVisit.outcome)):
        result.setdefault(branch_id, {})[outcome] = count
    return result


def visit_outcomes(days: int = PASS_RATE_DAYS, now: datetime | None = None, where: tuple = ()) -> dict[int, dict[str, int]]:
    """Per branch and outcome: return-visit attempts recorded over the last `days` days."""
    return visit_outcomes_between((now or utcnow()) - timedelta(days=days), where=where)


def pass_rate(outcomes: dict[str, int]) -> float | None:
    """Passed attempts over all recorded attempts (each has an outcome, not reached included)."""
    total = sum(outcomes.values())
    return outcomes.get(Outcome.PASSED, 0) / total if total else None


def branch_figures(user: Staff, counts: tuple[dict, dict] | None = None) -> tuple[BranchFigures, list[BranchFigures]]:
    """The figures of the user's scope in total, and per branch (one line for a manager).

    `counts`: what branch_counts(user) returned, when the caller has it already.
    """
    queues, failing = counts if counts is not None else branch_counts(user)
    openings = openings_by_channel(where=tuple(branch_scope(user, FundAccount.branch_id)))
    visits = visit_outcomes(where=tuple(branch_scope(user, ReturnVisit.branch_id)))
    branches = db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False), *branch_scope(user, Branch.id))
                                  .order_by(Branch.code)).all()
    lines = [BranchFigures(branch, queues.get(branch.id, {}), failing.get(branch.id, {}),
                           openings.get(branch.id, {}), visits.get(branch.id, {})) for branch in branches]
    total = BranchFigures(None, _merge(queues, BRANCH_QUEUES),
                          _merge(failing, (State.REJECTED.value, State.FAILING.value)),
                          {channel: sum(line.openings_today.get(channel, 0) for line in lines) for channel in CHANNELS},
                          {outcome: sum(line.visits.get(outcome, 0) for line in lines) for outcome in Outcome})
    return total, lines


@dataclass(frozen=True)
class Longest:
    """What has waited longest across the queues: which queue, which item, since when."""

    queue: str
    since: datetime
    reference: str | None
    message_id: int | None
    branch_id: int | None


def longest_waiting(queues: dict[str, Waiting], exception_queues: dict[str, Waiting]) -> Longest | None:
    candidates = [Longest(key, w.oldest_at, w.oldest_reference, w.oldest_message_id, w.oldest_branch_id)
                  for key, w in {**queues, **{f"exceptions_{k}": v for k, v in exception_queues.items()}}.items()
                  if w.count and w.oldest_at]
    return min(candidates, key=lambda c: c.since, default=None)


def export_jobs(user: Staff) -> dict[str, int]:
    """The archivist's own batch exports per status."""
    return {status: count for status, count in db.session.execute(
        select(ExportJob.status, func.count()).where(ExportJob.requested_by_id == user.id).group_by(ExportJob.status))}


def last_finished_export(user: Staff) -> ExportJob | None:
    return db.session.scalar(select(ExportJob).where(
        ExportJob.requested_by_id == user.id, ExportJob.status.in_((ExportStatus.DONE, ExportStatus.FAILED)))
        .order_by(ExportJob.finished_at.desc(), ExportJob.id.desc()).limit(1))


def recent_lending(user: Staff, days: int = LENDING_DAYS) -> tuple[dict[str, int], datetime | None]:
    """Lending-register entries of the last `days` days per action, and the latest one's time.

    The scope is the register's: the branch's own staff's reads, and anyone's reads of the
    branch's customers (all for HQ).
    """
    since = utcnow() - timedelta(days=days)
    where = [LendingRecord.at >= since]
    if not user.sees_all_branches:
        # A probe of each entry's customer by primary key: the week's entries, not the branch's customers.
        own_customer = exists(select(Customer.id).where(Customer.id == LendingRecord.customer_id,
                                                        Customer.branch_id == user.branch_id))
        where.append((LendingRecord.branch_id == user.branch_id) | own_customer)
    counts = {action: count for action, count in db.session.execute(
        select(LendingRecord.action, func.count()).where(*where).group_by(LendingRecord.action))}
    latest = db.session.scalar(select(func.max(LendingRecord.at)).where(*where))
    return counts, latest


def queue_rows(user: Staff, key: str, mine: bool, limit: int = 200) -> list[tuple[Application, datetime, str | None]]:
    """One queue's applications, longest waiting first: the user's own, or the branch's (all for HQ).

    Returned applications come with the reviewer's latest reason.
    """
    where = [Application.created_by_id == user.id] if mine else branch_scope(user, Application.branch_id)
    latest = (select(ReviewDecision.reason).where(ReviewDecision.application_id == Application.id)
              .order_by(ReviewDecision.id.desc()).limit(1).correlate(Application).scalar_subquery())
    query = _queue(key, Application, latest.label("reason") if key == "returned" else literal(None).label("reason"))
    rows = db.session.execute(query.where(*where).order_by("since", Application.id).limit(limit)).all()
    return [(row.Application, row.since, row.reason) for row in rows]


def escalated_visits(user: Staff) -> int:
    """Accounts whose return visits ran out of attempts and wait for the branch manager."""
    return db.session.scalar(select(func.count()).select_from(Application)
                             .join(ReturnVisitCase, ReturnVisitCase.application_id == Application.id).where(
        rare(ReturnVisitCase.status == CaseStatus.ESCALATED), *branch_scope(user, Application.branch_id))) or 0
