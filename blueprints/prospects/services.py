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


def enter(actor: Staff, *, name: str, id_type: str, id_number: str, mobile: str | None, source: str,
          notes: str | None, client_token: str) -> Customer:
    """Record a potential customer at the actor's branch; the same form posted twice records one."""
    earlier = db.session.scalar(select(ProspectEntry).where(ProspectEntry.client_token == client_token))
    if earlier is not None:
        return db.session.get(Customer, earlier.customer_id)
    number, errors = check_identity(name, id_type, id_number)
    if errors:
        raise ProspectRefused(errors[0].message, errors[0].field)
    existing = db.session.scalar(select(Customer).where(customer_services.with_id_number(number)))
    if existing is not None:
        seen = customer_services.find_visible(actor, existing.customer_no) is not None
        raise ProspectRefused(f"该证件号码已有客户档案（{existing.kind_label}"
                              + (f"，客户号 {existing.customer_no}" if seen else "，属其他营业部") + "），不能重复登记",
                              "id_number")
    kind = rules.IdType(id_type)
    values = {"name": name.strip(), "id_type": id_type, "id_number": number, "mobile": mobile or None,
              "birth_date": rules.birth_date_from_id(kind, number), "sex": rules.sex_from_id(kind, number)}
    customer = customer_services.create_customer(
        branch=db.session.get(Branch, actor.branch_id), values=values, source="prospect", actor=actor,
        kind=CustomerKind.POTENTIAL, reason="登记潜在客户")
    try:
        with db.session.begin_nested():
            db.session.add(ProspectEntry(customer_id=customer.id, client_token=client_token, source=source,
                                         notes=(notes or "").strip() or None, created_by_id=actor.id))
    except IntegrityError:  # the same form, posted twice at once
        db.session.rollback()
        earlier = db.session.scalar(select(ProspectEntry).where(ProspectEntry.client_token == client_token))
        return db.session.get(Customer, earlier.customer_id)
    audit.record("customer.prospect_enter", "customer", customer.customer_no, source=source)
    return customer
