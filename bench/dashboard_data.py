"""Rows for the statistics: customers, openings, return visits, changes and closures, inserted in bulk.

Shared by bench/dashboard.py (which generates 10k to 1M customers) and the statistics tests
(which insert a handful by hand). Rows go straight into the tables with Core inserts, many
per statement, the way an import or a replica would load them: no business rules run, so a
caller states every value the figures read (branch, kind, risk class, channel, times, states).
"""
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from blueprints.accounts.models import FundAccount
from blueprints.auth.models import Branch, Staff
from blueprints.changes.models import CustomerChange
from blueprints.closure.models import AccountClosure
from blueprints.customers import counts
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from blueprints.return_visit.models import ReturnVisit
from core.extensions import db

CHUNK = 5000


def insert_rows(model, rows: list[dict]) -> None:
    """Insert `rows` into the model's table, CHUNK at a time (customers also into the kept counts)."""
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start:start + CHUNK])
    if model is Customer and rows:
        counts.add_rows(rows)


@dataclass
class Ids:
    """Next free ids per table, so related rows can name each other before they are inserted."""

    next: dict = field(default_factory=dict)

    @classmethod
    def after_existing(cls) -> "Ids":
        ids = cls()
        for model in (Customer, Application, FundAccount, ReturnVisit, CustomerChange, AccountClosure):
            ids.next[model] = (db.session.scalar(select(func.max(model.id))) or 0) + 1
        return ids

    def take(self, model) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


def customer_row(ids: Ids, branch_id: int, kind: str = "current", risk_class: str | None = None,
                 risk_lowest: bool = False, created_at: datetime | None = None) -> dict:
    cid = ids.take(Customer)
    return {"id": cid, "customer_no": f"B{cid:014d}", "branch_id": branch_id, "customer_type": "individual",
            "kind": kind, "risk_class": risk_class, "risk_lowest": risk_lowest,
            "created_at": created_at or datetime(2024, 1, 1)}


def opening_rows(ids: Ids, customer_id: int, branch_id: int, staff_id: int, channel: str, opened_at: datetime,
                 account_status: str = "active") -> tuple[dict, dict]:
    """An approved application and the fund account opened from it at `opened_at` (stored UTC)."""
    aid, fid = ids.take(Application), ids.take(FundAccount)
    application = {"id": aid, "reference": f"KB{aid:012d}", "client_token": f"bench-{aid}", "branch_id": branch_id,
                   "channel": channel, "customer_type": "individual", "status": "approved",
                   "created_by_id": staff_id, "customer_id": customer_id,
                   "created_at": opened_at - timedelta(hours=2), "updated_at": opened_at}
    account = {"id": fid, "number": f"F{fid:012d}", "branch_id": branch_id, "customer_id": customer_id,
               "application_id": aid, "status": account_status, "opened_at": opened_at, "channel": channel}
    return application, account


def visit_row(ids: Ids, application_id: int, agent_id: int, outcome: str, visited_at: datetime,
              attempt_no: int = 1, branch_id: int | None = None) -> dict:
    """A return-visit call; without `branch_id` the column's default reads it from the application."""
    row = {"id": ids.take(ReturnVisit), "application_id": application_id, "attempt_no": attempt_no, "round_no": 1,
           "agent_id": agent_id, "outcome": outcome, "items": [], "visited_at": visited_at}
    if branch_id is not None:
        row["branch_id"] = branch_id
    return row


def change_row(ids: Ids, customer_id: int, branch_id: int, staff_id: int, kind: str, status: str,
               created_at: datetime) -> dict:
    cid = ids.take(CustomerChange)
    return {"id": cid, "reference": f"BG{cid:012d}", "client_token": f"bench-change-{cid}", "customer_id": customer_id,
            "branch_id": branch_id, "kind": kind, "status": status, "base_version": 1, "before": {}, "after": {},
            "systems": [], "created_by_id": staff_id, "created_at": created_at}


def closure_row(ids: Ids, customer_id: int, fund_account_id: int, branch_id: int, staff_id: int, status: str,
                created_at: datetime) -> dict:
    cid = ids.take(AccountClosure)
    return {"id": cid, "reference": f"XH{cid:012d}", "client_token": f"bench-closure-{cid}",
            "customer_id": customer_id, "fund_account_id": fund_account_id, "branch_id": branch_id,
            "status": status, "created_by_id": staff_id, "created_at": created_at}


def add_branches(count: int) -> list[Branch]:
    """Make sure `count` ordinary branches exist (codes 0101, 0201, … then 9001, 9002, …); return them by code."""
    existing = list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False)).order_by(Branch.code)))
    for n in range(len(existing), count):
        db.session.add(Branch(code=f"9{n:03d}", name=f"测试第{n + 1}营业部"))
    db.session.flush()
    return list(db.session.scalars(select(Branch).where(Branch.is_headquarters.is_(False))
                                   .order_by(Branch.code)))[:count]


KINDS = (("current", 0.80), ("potential", 0.05), ("historical", 0.10), ("lost", 0.05))
RISK = (("C1", 0.10), ("C2", 0.25), ("C3", 0.35), ("C4", 0.20), ("C5", 0.08), (None, 0.02))
OUTCOMES = (("passed", 0.70), ("not_reached", 0.20), ("failed", 0.05), ("refused", 0.05))
CHANGE_KINDS = (("ordinary", 0.8), ("key", 0.05), ("renewal", 0.12), ("upgrade", 0.01), ("link_confirmation", 0.02))
CHANGE_STATUSES = (("completed", 0.85), ("applied", 0.05), ("submitted", 0.03), ("rejected", 0.03),
                   ("refused", 0.02), ("withdrawn", 0.02))
CLOSURE_STATUSES = (("closed", 0.8), ("closing", 0.05), ("submitted", 0.05), ("withdrawn", 0.05),
                    ("failed", 0.03), ("step_refused", 0.02))


def _pick(rng: random.Random, table) -> str:
    return rng.choices([value for value, _w in table], weights=[w for _v, w in table])[0]


def generate(customers: int, branches: int, now: datetime, years: int = 3, seed: int = 12,
             progress=None) -> None:
    """Generate `customers` customers over `branches` branches, opened over the last `years` years up to `now`.

    Every current, historical or lost customer has an opening (70 % on site, 30 % witnessed) and
    one to three return-visit calls; one in five has a change of information; historical ones a
    closure. Inserted in batches of 50,000 customers and committed after each.
    """
    rng = random.Random(seed)
    branch_ids = [b.id for b in add_branches(branches)]
    staff_id = db.session.scalar(select(Staff.id).order_by(Staff.id).limit(1))
    span = years * 365 * 86400
    ids = Ids.after_existing()
    batch = 50_000
    for offset in range(0, customers, batch):
        rows = {model: [] for model in (Customer, Application, FundAccount, ReturnVisit, CustomerChange, AccountClosure)}
        for _ in range(min(batch, customers - offset)):
            branch_id = rng.choice(branch_ids)
            kind = _pick(rng, KINDS)
            opened_at = now - timedelta(seconds=rng.randrange(span))
            risk = None if kind == "potential" else _pick(rng, RISK)
            customer = customer_row(ids, branch_id, kind, risk, risk == "C1" and rng.random() < 0.1, opened_at)
            rows[Customer].append(customer)
            if kind == "potential":
                continue
            application, account = opening_rows(ids, customer["id"], branch_id, staff_id,
                                                 "onsite" if rng.random() < 0.7 else "witness", opened_at,
                                                 "closed" if kind == "historical" else "active")
            rows[Application].append(application)
            rows[FundAccount].append(account)
            for attempt in range(1, rng.choice((1, 1, 1, 2, 3)) + 1):
                rows[ReturnVisit].append(visit_row(ids, application["id"], staff_id, _pick(rng, OUTCOMES),
                                                   opened_at + timedelta(hours=20 * attempt), attempt, branch_id))
            if rng.random() < 0.2:
                rows[CustomerChange].append(change_row(ids, customer["id"], branch_id, staff_id,
                                                       _pick(rng, CHANGE_KINDS), _pick(rng, CHANGE_STATUSES),
                                                       min(now, opened_at + timedelta(days=rng.randrange(1, 300)))))
            if kind == "historical":
                rows[AccountClosure].append(closure_row(ids, customer["id"], account["id"], branch_id, staff_id,
                                                        _pick(rng, CLOSURE_STATUSES),
                                                        min(now, opened_at + timedelta(days=rng.randrange(30, 600)))))
        for model, model_rows in rows.items():
            insert_rows(model, model_rows)
        db.session.commit()
        if progress:
            progress(offset + len(rows[Customer]))


# --- CRM: grades, service records, complaints, handovers -----------------------------------------

from sqlalchemy import bindparam  # noqa: E402  (the CRM rows' own import)


def crm_ids(ids: Ids) -> Ids:
    """Add the next free ids of the CRM tables to `ids` (service records, complaints, handovers)."""
    from blueprints.managers.models import Handover
    from blueprints.service.models import Complaint, ServiceRecord

    for model in (ServiceRecord, Complaint, Handover):
        ids.next.setdefault(model, (db.session.scalar(select(func.max(model.id))) or 0) + 1)
    return ids


def grade_row(customer_id: int, grade: str, valued_on) -> dict:
    return {"customer_id": customer_id, "grade": grade, "figures": {}, "valued_on": valued_on,
            "computed_at": datetime.combine(valued_on, datetime.min.time())}


def service_record_row(ids: Ids, customer_id: int, branch_id: int, staff_id: int, kind: str, status: str,
                       created_at: datetime, closed_at: datetime | None = None) -> dict:
    from blueprints.service.models import ServiceRecord

    rid = ids.take(ServiceRecord)
    return {"id": rid, "reference": f"FW{rid:012d}", "client_token": f"bench-service-{rid}", "customer_id": customer_id,
            "branch_id": branch_id, "kind": kind, "status": status, "subject": "服务记录", "content": "—",
            "owner_id": staff_id, "created_by_id": staff_id, "created_at": created_at,
            "closed_at": closed_at if status == "closed" else None, "closed_by_id": staff_id if status == "closed" else None,
            "version": 1}


def complaint_row(ids: Ids, record_id: int, channel: str, category: str, received_on, resolution_due,
                  first_contact_due=None, first_contacted_at: datetime | None = None, handler_id: int | None = None,
                  urgency: str = "general") -> dict:
    from blueprints.service.models import Complaint

    return {"id": ids.take(Complaint), "record_id": record_id, "channel": channel,
            "case_no": "12386-BENCH" if channel == "csrc_12386" else None, "category": category, "urgency": urgency,
            "received_on": received_on, "handler_id": handler_id, "first_contact_due": first_contact_due or received_on,
            "first_contacted_at": first_contacted_at, "resolution_due": resolution_due, "extensions": 0}


def handover_row(ids: Ids, branch_id: int, staff_id: int, status: str, requested_at: datetime,
                 kind: str = "selected") -> dict:
    from blueprints.managers.models import Handover

    hid = ids.take(Handover)
    return {"id": hid, "reference": f"YJ{hid:012d}", "client_token": f"bench-handover-{hid}", "kind": kind,
            "branch_id": branch_id, "from_staff_id": staff_id, "effective_date": requested_at.date(),
            "reason": "岗位调整", "status": status, "requested_by_id": staff_id, "requested_at": requested_at,
            "version": 1}


GRADE_SHARES = (("normal", 0.70), ("silver", 0.18), ("gold", 0.08), ("platinum", 0.03), ("diamond", 0.01))
SERVICE_KINDS = (("consultation", 0.40), ("call", 0.25), ("visit", 0.15), ("suggestion", 0.05), ("complaint", 0.15))
SERVICE_STATUSES = (("closed", 0.85), ("in_progress", 0.10), ("open", 0.05))
COMPLAINT_CHANNELS = (("phone", 0.45), ("counter", 0.25), ("letter", 0.05), ("csrc_12386", 0.25))
COMPLAINT_CATEGORIES = (("brokerage", 0.35), ("account", 0.20), ("margin", 0.10), ("it_system", 0.10),
                        ("staff_conduct", 0.10), ("asset_management", 0.05), ("options", 0.03),
                        ("investment_advice", 0.02), ("other", 0.05))
HANDOVER_STATUSES = (("approved", 0.75), ("pending", 0.10), ("rejected", 0.10), ("withdrawn", 0.05))


def _copy_grades(grades: list[dict]) -> None:
    """Keep each grade on its customer too, as grading does (Core statements: the kept counts are rebuilt after)."""
    table = Customer.__table__
    statement = table.update().where(table.c.id == bindparam("cid")).values(grade=bindparam("new_grade"))
    for start in range(0, len(grades), CHUNK):
        db.session.execute(statement, [{"cid": row["customer_id"], "new_grade": row["grade"]}
                                       for row in grades[start:start + CHUNK]])


def generate_crm(now: datetime, years: int = 3, seed: int = 13, progress=None) -> None:
    """Grades, service records, complaints and handovers for the customers already in the database.

    Every customer who is not historical has a grade (70 % 普通 … 1 % 钻石); three in ten have one
    or two service records over the last `years` years, 15 % of them complaints whose resolution
    takes 1–25 days against a 15-day deadline (so some are late and some still open); each branch
    has about one handover per 500 customers. Committed every 50,000 customers.
    """
    from blueprints.grading.models import CustomerGrade
    from blueprints.managers.models import Handover
    from blueprints.service.models import Complaint, ServiceRecord

    rng = random.Random(seed)
    staff_id = db.session.scalar(select(Staff.id).order_by(Staff.id).limit(1))
    ids = crm_ids(Ids.after_existing())
    span = years * 365 * 86400
    last = 0
    batch = 50_000
    done = 0
    while True:
        customers = db.session.execute(select(Customer.id, Customer.branch_id, Customer.kind)
                                       .where(Customer.id > last).order_by(Customer.id).limit(batch)).all()
        if not customers:
            break
        rows = {model: [] for model in (CustomerGrade, ServiceRecord, Complaint, Handover)}
        for customer_id, branch_id, kind in customers:
            if kind != "historical":
                rows[CustomerGrade].append(grade_row(customer_id, _pick(rng, GRADE_SHARES), now.date()))
            if rng.random() < 0.3:
                for _ in range(rng.choice((1, 1, 2))):
                    created_at = now - timedelta(seconds=rng.randrange(span))
                    service_kind, status = _pick(rng, SERVICE_KINDS), _pick(rng, SERVICE_STATUSES)
                    took = timedelta(days=rng.randrange(1, 26))
                    closed_at = min(now, created_at + took) if status == "closed" else None
                    record = service_record_row(ids, customer_id, branch_id, staff_id, service_kind,
                                                "closed" if closed_at else status, created_at, closed_at)
                    rows[ServiceRecord].append(record)
                    if service_kind == "complaint":
                        received = created_at.date()
                        rows[Complaint].append(complaint_row(
                            ids, record["id"], _pick(rng, COMPLAINT_CHANNELS), _pick(rng, COMPLAINT_CATEGORIES),
                            received, received + timedelta(days=15), received + timedelta(days=1),
                            created_at + timedelta(hours=rng.randrange(2, 48)), staff_id))
            if rng.random() < 0.002:
                rows[Handover].append(handover_row(ids, branch_id, staff_id, _pick(rng, HANDOVER_STATUSES),
                                                   now - timedelta(seconds=rng.randrange(span))))
        for model, model_rows in rows.items():
            insert_rows(model, model_rows)
        _copy_grades(rows[CustomerGrade])
        db.session.commit()
        last = customers[-1][0]
        done += len(customers)
        if progress:
            progress(done)
    from blueprints.customers import counts

    counts.recount()  # the grades were copied with Core statements, which the kept counts do not see
    db.session.commit()


def add_waiting_work(per_queue: int, clerk: str = "clerk", reviewer: str = "reviewer") -> None:
    """The work a branch has waiting: `per_queue` drafts, returned applications (with the reviewer's
    rejection), applications in review and ones whose scans were asked for again, all entered by
    `clerk` at its branch, and `per_queue` of the branch's accounts awaiting their return visit.
    """
    from blueprints.opening.models import ApplicationDocument, StatusChange
    from blueprints.return_visit.models import ReturnVisitCase
    from blueprints.review.models import ReviewDecision
    from core.timeutil import utcnow

    clerk_row = db.session.scalar(select(Staff).where(Staff.username == clerk))
    reviewer_id = db.session.scalar(select(Staff.id).where(Staff.username == reviewer))
    now = utcnow()
    next_id = (db.session.scalar(select(func.max(Application.id))) or 0) + 1
    applications, changes, decisions, documents = [], [], [], []
    for n in range(4 * per_queue):
        aid = next_id + n
        status = ("draft", "rejected", "submitted", "resubmitted")[n % 4]
        at = now - timedelta(minutes=37 * n + 5)
        applications.append({"id": aid, "reference": f"KH{aid:014d}", "client_token": f"bench-home-{aid}",
                             "branch_id": clerk_row.branch_id, "channel": "onsite", "customer_type": "individual",
                             "status": status, "created_by_id": clerk_row.id, "created_at": at, "updated_at": at,
                             "customer_name": "测试客户", "submission_no": 0 if status == "draft" else 1})
        if status != "draft":
            changes.append({"application_id": aid, "from_status": "draft", "to_status": status,
                            "actor_id": clerk_row.id, "at": at})
        if status == "rejected":
            decisions.append({"application_id": aid, "submission_no": 1, "decision": "reject",
                              "reason": "联系地址不完整", "return_step": "contact", "reviewer_id": reviewer_id,
                              "operator_id": reviewer_id, "decided_at": at})
        if status == "resubmitted":
            documents.append({"application_id": aid, "kind": "id_front", "sha256": f"{aid:064d}",
                              "mime": "image/png", "size": 100, "uploaded_by_id": clerk_row.id, "uploaded_at": at,
                              "review_status": "requested", "review_reason": "影像模糊"})
    insert_rows(Application, applications)
    insert_rows(StatusChange, changes)
    insert_rows(ReviewDecision, decisions)
    insert_rows(ApplicationDocument, documents)
    accounts = db.session.execute(select(FundAccount.application_id, FundAccount.id).where(
        FundAccount.branch_id == clerk_row.branch_id, FundAccount.status != "failed",
        ~FundAccount.application_id.in_(select(ReturnVisitCase.application_id))).limit(per_queue)).all()
    insert_rows(ReturnVisitCase, [{"application_id": aid, "fund_account_id": fid, "status": "awaiting",
                                   "branch_id": clerk_row.branch_id, "queue_tier": 0,
                                   "waiting_since": now - timedelta(hours=i),
                                   "entered_at": now - timedelta(hours=i), "updated_at": now}
                                  for i, (aid, fid) in enumerate(accounts)])
