"""Entering a potential customer: the three elements checked as an opening checks them, no duplicate record."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind
from blueprints.opening import rules
from blueprints.prospects.models import ProspectEntry
from core import audit
from core.extensions import db
from core.idempotency import made_with


# The profile columns a correction carries over from the current version (the rest are derived or bookkeeping).
_DERIVED = {"id", "customer_id", "version", "source", "application_id", "created_by_id", "created_at",
            "id_number_index", "mobile_index", "name_key", "name_pinyin", "name_initials", "birth_month_day"}
CORRECTABLE = ("name", "id_type", "id_number", "mobile")


class ProspectStale(Exception):
    """Someone saved this potential customer (or opened an account for them) since the form was shown."""


class ProspectRefused(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def entry_of(customer_id: int) -> ProspectEntry | None:
    return db.session.scalar(select(ProspectEntry).where(ProspectEntry.customer_id == customer_id))


def check_identity(name: str, id_type: str, id_number: str) -> tuple[str, list[rules.FieldError]]:
    """The normalised ID number and what is wrong with the name and number (the opening's document rules)."""
    kind = rules.IdType(id_type)
    number = rules.normalize_id_number(kind, id_number or "")
    errors = [rules.FieldError("id_number", e.message) for e in rules.check_id_number(kind, number)]
    name = (name or "").strip()
    if not name:
        errors.append(rules.FieldError("name", "请填写姓名"))
    elif len(name) > 60:
        errors.append(rules.FieldError("name", "姓名不超过60个字符"))
    return number, errors


def _refuse_if_taken(actor: Staff, number: str, exclude_id: int | None = None) -> None:
    query = select(Customer).where(customer_services.with_id_number(number))
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    existing = db.session.scalar(query)
    if existing is not None:
        seen = customer_services.find_visible(actor, existing.customer_no) is not None
        raise ProspectRefused(f"该证件号码已有客户档案（{existing.kind_label}"
                              + (f"，客户号 {existing.customer_no}" if seen else "，属其他营业部") + "），不能重复登记",
                              "id_number")


def _identity_values(name: str, id_type: str, number: str, mobile: str | None) -> dict:
    kind = rules.IdType(id_type)
    return {"name": name.strip(), "id_type": id_type, "id_number": number, "mobile": mobile or None,
            "birth_date": rules.birth_date_from_id(kind, number), "sex": rules.sex_from_id(kind, number)}


def correct(actor: Staff, customer: Customer, *, expected_version: int | None, name: str, id_type: str,
            id_number: str | None, mobile: str | None, source: str, notes: str | None) -> list[str] | None:
    """Correct a potential customer's entry: a new profile version when the person's details change
    (nothing is overwritten), the entry's source and notes in place.

    Returns the names of what changed, or None when a form shown before the latest version asks for
    exactly what is on record now (the same form posted twice: it was saved once). `id_number` None
    keeps the number on record (the form did not show it). Only a potential customer is corrected
    here: once an account is open, changes go through 资料变更 with its review.
    """
    customer = db.session.get(Customer, customer.id, with_for_update={"of": Customer}, populate_existing=True)
    if customer.kind != CustomerKind.POTENTIAL:
        raise ProspectStale()
    profile, entry = customer.profile, entry_of(customer.id)
    number, errors = check_identity(name, id_type, id_number if id_number is not None else profile.id_number)
    if errors:
        raise ProspectRefused(errors[0].message, errors[0].field)
    _refuse_if_taken(actor, number, exclude_id=customer.id)
    wanted = _identity_values(name, id_type, number, mobile)
    notes = (notes or "").strip() or None
    changed = [f for f in CORRECTABLE if (getattr(profile, f) or None) != wanted[f]]
    if entry is not None:
        changed += [f for f, value in (("source", source), ("notes", notes)) if getattr(entry, f) != value]
    if expected_version != customer.profile_version:
        if changed:
            raise ProspectStale()
        return None
    if any(f in CORRECTABLE for f in changed):
        values = {c.key: getattr(profile, c.key) for c in profile.__table__.columns if c.key not in _DERIVED}
        values.update(wanted)
        customer_services.add_profile_version(customer, values, source="prospect", actor=actor)
    if entry is not None:
        entry.source, entry.notes = source, notes
    if changed:
        audit.record("customer.prospect_correct", "customer", customer.customer_no, fields=changed,
                     profile_version=customer.profile_version)
    return changed


def enter(actor: Staff, *, name: str, id_type: str, id_number: str, mobile: str | None, source: str,
          notes: str | None, client_token: str) -> Customer:
    """Record a potential customer at the actor's branch; the same form posted twice records one."""
    earlier = made_with(ProspectEntry, client_token, actor.id)
    if earlier is not None:
        return db.session.get(Customer, earlier.customer_id)
    number, errors = check_identity(name, id_type, id_number)
    if errors:
        raise ProspectRefused(errors[0].message, errors[0].field)
    _refuse_if_taken(actor, number)
    values = _identity_values(name, id_type, number, mobile)
    customer = customer_services.create_customer(
        branch=db.session.get(Branch, actor.branch_id), values=values, source="prospect", actor=actor,
        kind=CustomerKind.POTENTIAL, reason="登记潜在客户")
    try:
        with db.session.begin_nested():
            db.session.add(ProspectEntry(customer_id=customer.id, client_token=client_token, source=source,
                                         notes=(notes or "").strip() or None, created_by_id=actor.id))
    except IntegrityError:  # the same form, posted twice at once
        db.session.rollback()
        earlier = made_with(ProspectEntry, client_token, actor.id)
        return db.session.get(Customer, earlier.customer_id)
    audit.record("customer.prospect_enter", "customer", customer.customer_no, source=source)
    return customer
