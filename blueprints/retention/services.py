"""Legal holds and the purge of customer files whose retention term has ended (operations: flush, never commit).

The purge erases irreversibly rather than deleting rows. The audit trail (hash-chained, never rewritten)
and the business records around a customer (accounts, reviews, changes, the lending register) point at
the customer's row; deleting it would break that chain and those records. What goes is everything that
identifies the person: names, ID numbers, contacts, addresses, the wizard's saved steps, search keys, and
the stored files (scans, photos, signatures, recordings, dossiers) only this customer's rows name. What is
left (customer number, dates, states, counts) no longer identifies anyone: anonymised data is not personal
information (PIPL 第四条、第七十三条), which is what 第四十七条 asks for once the term has ended.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.retention import rules
from blueprints.retention.models import LegalHold, RetentionPurge
from core import audit, files
from core.classification import class_of
from core.extensions import db
from core.roles import Role
from core.timeutil import business_today, to_beijing, utcnow

HOLD_ROLES = frozenset({Role.HQ_ADMIN, Role.ARCHIVIST})
ERASED = "已清除"
RUN_BY = "retention-purge"


class RetentionRefused(Exception):
    """A hold, lift or purge that is not allowed; the message says why, in Chinese."""


# --- legal holds ----------------------------------------------------------------------------------

def active_hold(customer_id: int) -> LegalHold | None:
    return db.session.scalar(select(LegalHold).where(LegalHold.customer_id == customer_id,
                                                     LegalHold.lifted_at.is_(None)).order_by(LegalHold.id))


def _check_holder(actor: Staff, customer: Customer) -> None:
    if actor.role not in HOLD_ROLES:
        raise RetentionRefused("只有总部管理员或档案管理员可以设置或解除法律保全")
    if actor.role != Role.HQ_ADMIN and actor.branch_id != customer.branch_id:
        raise RetentionRefused("该客户不属于您的营业部")


def place_hold(customer: Customer, actor: Staff, reason: str) -> LegalHold:
    """Place a legal hold on the customer's file; one stands at a time."""
    _check_holder(actor, customer)
    reason = (reason or "").strip()
    if not reason:
        raise RetentionRefused("请填写法律保全的理由（如案号、来函文号）")
    if active_hold(customer.id):
        raise RetentionRefused("该客户已有未解除的法律保全")
    if _purged(customer.id):
        raise RetentionRefused("该客户的资料已按保管期限清除")
    hold = LegalHold(customer_id=customer.id, reason=reason[:500], placed_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(hold)
    except IntegrityError:  # another archivist placed one a moment earlier
        raise RetentionRefused("该客户已有未解除的法律保全") from None
    audit.record("retention.hold_placed", "customer", customer.customer_no, actor=actor, hold_id=hold.id)
    return hold


def lift_hold(customer: Customer, actor: Staff, reason: str) -> LegalHold:
    """Lift the customer's standing legal hold, with a reason; the hold stays on record."""
    _check_holder(actor, customer)
    reason = (reason or "").strip()
    if not reason:
        raise RetentionRefused("请填写解除法律保全的理由")
    hold = active_hold(customer.id)
    if hold is None:
        raise RetentionRefused("该客户没有未解除的法律保全")
    hold.lifted_by_id, hold.lifted_at, hold.lift_reason = actor.id, utcnow(), reason[:500]
    db.session.flush()
    audit.record("retention.hold_lifted", "customer", customer.customer_no, actor=actor, hold_id=hold.id)
    return hold


def holds_of(customer_id: int) -> list[LegalHold]:
    """Every hold of the customer's file, the standing one first, then the lifted ones newest first."""
    holds = db.session.scalars(select(LegalHold).where(LegalHold.customer_id == customer_id)
                               .order_by(LegalHold.placed_at.desc(), LegalHold.id.desc())).all()
    return sorted(holds, key=lambda hold: hold.lifted_at is not None)


def term_text(customer: Customer) -> str:
    """The file's retention term in words: its due date once the customer has closed."""
    if customer.kind == "merged":
        return "已合并的客户记录随存续客户的档案保管"
    if customer.kind != "historical" or customer.closed_at is None:
        return f"客户未销户：保管期限自销户之日起计算，不少于 {rules.FILE_YEARS} 年"
    closed_on = to_beijing(customer.closed_at).date()
    return f"销户日 {closed_on.isoformat()}，保管至 {rules.due_date(closed_on).isoformat()}（满 {rules.FILE_YEARS} 年后方可清除）"


# --- the purge ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    customer_no: str
    purged: bool
    reason: str
    erased: dict | None = None


def _purged(customer_id: int) -> bool:
    return db.session.scalar(select(RetentionPurge.id).where(RetentionPurge.customer_id == customer_id)) is not None


def decision_for(customer: Customer, cutoff: date) -> rules.Decision:
    hold = active_hold(customer.id)
    closed_on = to_beijing(customer.closed_at).date() if customer.closed_at else None
    return rules.decide(closed_on, str(customer.kind), hold is not None, hold.reason if hold else None, cutoff)


def purge(before: date, dry_run: bool = False, customer_nos: list[str] | None = None) -> list[Outcome]:
    """Erase the files of closed customers whose term ended on or before `before` and that no hold keeps.

    Every customer considered gets a line: purged (or would be, in a dry run) or refused with the reason.
    Without `customer_nos`, the closed customers; with them, exactly those (so a refusal can be asked for).
    A cutoff after today is refused: nothing goes before its day.
    """
    today = business_today()
    if before > today:
        raise RetentionRefused(f"截止日期 {before.isoformat()} 晚于今天（{today.isoformat()}），不能提前清除")
    query = select(Customer).order_by(Customer.id)
    if customer_nos:
        query = query.where(Customer.customer_no.in_(customer_nos))
    else:
        query = query.where(Customer.closed_at.is_not(None))
    outcomes = []
    for customer in db.session.scalars(query).all():
        if _purged(customer.id):
            outcomes.append(Outcome(customer.customer_no, False, "已清除，无需再次处理"))
            continue
        decision = decision_for(customer, before)
        if not decision.purge:
            outcomes.append(Outcome(customer.customer_no, False, decision.reason))
            continue
        erased = None if dry_run else erase(customer, decision.due_on, before)
        outcomes.append(Outcome(customer.customer_no, True, decision.reason, erased))
    return outcomes


def _application_ids(customer_id: int) -> list[int]:
    from blueprints.opening.models import Application

    return list(db.session.scalars(select(Application.id).where(Application.customer_id == customer_id)))


def _file_columns():
    """Where stored files are named, by customer (customer_id) or by application (application_id)."""
    from blueprints.archive.models import ArchiveScan, Dossier
    from blueprints.opening.models import ApplicationDocument
    from blueprints.return_visit.models import ReturnVisit

    return [(ArchiveScan.sha256, ArchiveScan.customer_id, "customer"), (Dossier.sha256, Dossier.customer_id, "customer"),
            (ApplicationDocument.sha256, ApplicationDocument.application_id, "application"),
            (ReturnVisit.recording_sha256, ReturnVisit.application_id, "application")]


def _files_of(customer_id: int, application_ids: list[int]) -> tuple[set[str], set[str]]:
    """(the stored files this customer's rows name, those some other row names too)."""
    own, shared = set(), set()
    for column, owner, by in _file_columns():
        mine = owner == customer_id if by == "customer" else owner.in_(application_ids or [-1])
        own |= {sha for sha in db.session.scalars(select(column).where(mine, column.is_not(None)))}
    for column, owner, by in _file_columns():
        theirs = owner != customer_id if by == "customer" else owner.not_in(application_ids or [-1])
        shared |= set(db.session.scalars(select(column).where(theirs, column.in_(own))))
    return own, shared


def erase(customer: Customer, due_on: date, cutoff: date) -> dict:
    """Irreversibly erase what identifies this customer; keep the rows that other records and the audit trail name."""
    from blueprints.customers.models import CustomerProfile, IdDocument
    from blueprints.opening.models import Application, ApplicationStep
    from blueprints.search.models import CustomerSearchKey

    erased: dict[str, int] = {}
    applications = _application_ids(customer.id)
    # The rows shown anywhere: overwritten with placeholders where a value is required, emptied elsewhere.
    blank = f"purged-{customer.id}"
    erased["customer_profile"] = db.session.execute(update(CustomerProfile).where(
        CustomerProfile.customer_id == customer.id).values(
        name=ERASED, id_number="", id_number_index=blank, name_key="", name_pinyin="", name_initials="", sex=None,
        birth_date=None, birth_month_day=None, mobile=None, mobile_index=None, email=None, address=None, postcode=None,
        employer=None, tax_id=None, tax_country=None)).rowcount
    erased["customer_id_document"] = db.session.execute(update(IdDocument).where(
        IdDocument.customer_id == customer.id).values(
        id_number="", id_number_index=blank, name=ERASED, sex=None, ethnicity=None, birth_date=None, address=None,
        authority=None)).rowcount
    if applications:
        erased["application"] = db.session.execute(update(Application).where(Application.id.in_(applications)).values(
            customer_name=ERASED, id_number=None, id_number_index=None), execution_options={
            "synchronize_session": False}).rowcount
        erased["application_step"] = db.session.execute(update(ApplicationStep).where(
            ApplicationStep.application_id.in_(applications)).values(data={})).rowcount
    erased["customer_search_key"] = db.session.execute(delete(CustomerSearchKey).where(
        CustomerSearchKey.customer_id == customer.id)).rowcount
    erased.update(_erase_classified(customer.id))
    # Stored files: removed from the store once no other customer's row names the same content.
    own, shared = _files_of(customer.id, applications)
    store = files.backend()
    for sha in sorted(own - shared):
        store.delete(sha)
    erased["stored_files"] = len(own - shared)
    db.session.add(RetentionPurge(customer_id=customer.id, due_on=due_on, cutoff=cutoff, run_by=RUN_BY,
                                  erased=erased))
    db.session.flush()
    audit.record("retention.purged", "customer", customer.customer_no, actor_name=RUN_BY, due_on=due_on.isoformat(),
                 files=erased["stored_files"])
    return erased


HANDLED = {"customer_profile", "customer_id_document", "application", "application_step", "customer_search_key"}


def _erase_classified(customer_id: int) -> dict[str, int]:
    """Empty every other nullable column classified C2 in the tables that name the customer (customer_id)."""
    erased = {}
    for table in db.metadata.sorted_tables:
        if table.name in HANDLED or table.name in ("legal_hold", "retention_purge", "audit_event") \
                or "customer_id" not in table.c:
            continue
        personal = [c for c in table.columns if class_of(c) == "C2" and c.nullable and not c.primary_key
                    and not c.foreign_keys]
        if personal:
            result = db.session.execute(table.update().where(table.c.customer_id == customer_id)
                                        .values({c.name: None for c in personal}))
            if result.rowcount:
                erased[table.name] = result.rowcount
    return erased
