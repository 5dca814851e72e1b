"""Rows for the work lists: return-visit cases and calls, applications in review, lending entries, in bulk.

Shared by bench/list_pages.py (on top of the customers bench/crm_data.py generates) and the list
paging tests. Like bench/dashboard_data.py, rows go straight into the tables with Core inserts and
no business rules run, so each row states what the lists read: the case's branch, queue tier and
waiting time as services keep them, the calls that explain that tier.
"""
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from bench.dashboard_data import Ids, insert_rows, visit_row
from blueprints.accounts.models import FundAccount
from blueprints.archive.models import LendingRecord
from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from blueprints.return_visit.models import ReturnVisit, ReturnVisitCase
from blueprints.return_visit.rules import TIER_NOT_REACHED, TIER_REACHED, TIER_UNTRIED
from core.extensions import db

NOW = datetime(2026, 11, 1)


@dataclass(frozen=True)
class Opening:
    """An approved application with its fund account: what a return-visit case is opened for."""

    application_id: int
    fund_account_id: int
    branch_id: int
    customer_id: int
    opened_at: datetime


def openings(branch_id: int | None = None, without_case: bool = True, limit: int | None = None) -> list[Opening]:
    """The openings on record (of one branch), oldest first, those without a case unless told otherwise."""
    query = (select(Application.id, FundAccount.id, Application.branch_id, Application.customer_id, FundAccount.opened_at)
             .join(FundAccount, FundAccount.application_id == Application.id).order_by(Application.id))
    if branch_id is not None:
        query = query.where(Application.branch_id == branch_id)
    if without_case:
        query = query.where(~select(ReturnVisitCase.id).where(ReturnVisitCase.application_id == Application.id).exists())
    if limit is not None:
        query = query.limit(limit)
    return [Opening(*row) for row in db.session.execute(query)]


def add_cases(found: list[Opening], agent_id: int, rng: random.Random, awaiting: float = 0.02,
              escalated: float = 0.005, now: datetime = NOW) -> dict[str, int]:
    """A return-visit case for each opening: passed, awaiting (in one of the three tiers) or escalated,
    with the calls that put it there. Returns how many of each."""
    ids = Ids.after_existing()
    cases, visits = [], []
    counts = {"passed": 0, "awaiting": 0, "escalated": 0}
    for opening in found:
        entered = opening.opened_at + timedelta(hours=1)
        roll = rng.random()
        case = {"application_id": opening.application_id, "fund_account_id": opening.fund_account_id,
                "branch_id": opening.branch_id, "round_no": 1, "entered_at": entered, "updated_at": entered,
                "queue_tier": TIER_UNTRIED, "waiting_since": entered, "escalated_at": None, "passed_at": None}
        if roll < awaiting:
            status = "awaiting"
            # Recent openings wait in the queue: within the last month.
            entered = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
            case.update(entered_at=entered, updated_at=entered, waiting_since=entered)
            tier = rng.choice((TIER_UNTRIED, TIER_UNTRIED, TIER_REACHED, TIER_NOT_REACHED))
            if tier != TIER_UNTRIED:
                called = entered + timedelta(hours=rng.randrange(1, 48))
                outcome = "not_reached" if tier == TIER_NOT_REACHED else "failed"
                visits.append(visit_row(ids, opening.application_id, agent_id, outcome, called))
                case.update(queue_tier=tier, waiting_since=called, updated_at=called)
        elif roll < awaiting + escalated:
            status = "escalated"
            at = entered
            for attempt in (1, 2, 3):
                at += timedelta(hours=rng.randrange(2, 30))
                visits.append(visit_row(ids, opening.application_id, agent_id, "not_reached", at, attempt_no=attempt))
            case.update(escalated_at=at, updated_at=at, queue_tier=TIER_NOT_REACHED, waiting_since=at)
        else:
            status = "passed"
            at = entered + timedelta(hours=rng.randrange(1, 72))
            visits.append(visit_row(ids, opening.application_id, agent_id, "passed", at))
            case.update(passed_at=at, updated_at=at)
        case["status"] = status
        counts[status] += 1
        cases.append(case)
    insert_rows(ReturnVisitCase, cases)
    insert_rows(ReturnVisit, visits)
    return counts


def add_reviews(count: int, branch_id: int, clerk_id: int, rng: random.Random, resubmitted: float = 0.2,
                now: datetime = NOW) -> None:
    """`count` applications waiting for review in a branch, submitted within the last two weeks."""
    start = (db.session.scalar(select(func.max(Application.id))) or 0) + 1
    rows = []
    for n in range(count):
        aid = start + n
        submitted = now - timedelta(minutes=rng.randrange(60 * 24 * 14))
        rows.append({"id": aid, "reference": f"KR{aid:012d}", "client_token": f"bench-review-{aid}",
                     "branch_id": branch_id, "channel": "onsite", "customer_type": "individual",
                     "status": "resubmitted" if rng.random() < resubmitted else "submitted",
                     "created_by_id": clerk_id, "created_at": submitted - timedelta(hours=1), "updated_at": submitted,
                     "submitted_at": submitted, "customer_name": rng.choice("王李张刘陈杨") + "测试",
                     "id_type": "resident_id", "version": 1, "submission_no": 1})
    insert_rows(Application, rows)


def add_lending(customer_ids: list[int], staff_id: int, branch_id: int, count: int, rng: random.Random,
                now: datetime = NOW) -> None:
    """`count` reads of these customers' files by one staff member, within the last year."""
    purposes = ("业务复核", "客户投诉处理", "监管检查", "内部审计")
    rows = [{"staff_id": staff_id, "branch_id": branch_id, "customer_id": rng.choice(customer_ids), "action": "view",
             "purpose": rng.choice(purposes), "ip": "10.0.0.1",
             "at": now - timedelta(seconds=rng.randrange(365 * 24 * 3600))} for _ in range(count)]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(LendingRecord), rows[start:start + 5000])


def staff_of(branch_id: int, role: str) -> int | None:
    return db.session.scalar(select(Staff.id).where(Staff.branch_id == branch_id, Staff.role == role).limit(1))


def generate(rng: random.Random, awaiting: float = 0.02, escalated: float = 0.005, in_review: float = 0.01,
             lending: float = 0.1) -> dict[str, int]:
    """The lists for every opening that has no case yet: cases and calls, then per branch applications in
    review and lending entries in proportion to the branch's new openings."""
    found = openings()
    agent = db.session.scalar(select(Staff.id).where(Staff.username == "visitor"))
    counts = add_cases(found, agent, rng, awaiting=awaiting, escalated=escalated)
    by_branch: dict[int, list[int]] = {}
    for opening in found:
        by_branch.setdefault(opening.branch_id, []).append(opening.customer_id)
    for branch_id, customers in by_branch.items():
        clerk = staff_of(branch_id, "clerk")
        reader = staff_of(branch_id, "archivist") or clerk
        add_reviews(round(len(customers) * in_review), branch_id, clerk, rng)
        add_lending(customers, reader, branch_id, round(len(customers) * lending), rng)
    db.session.commit()
    counts["openings"] = len(found)
    return counts
