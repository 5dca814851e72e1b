"""The customer record: enrolment at approval, lifecycle moves, profile versions, and reading them."""
import re
import secrets
from datetime import date
from typing import Callable

from flask import g, has_request_context
from sqlalchemy import and_, func, or_, select

from blueprints.auth.models import Branch, Staff
from blueprints.customers import counts, lifecycle, names  # noqa: F401 (counts: its flush events keep customer_count)
from blueprints.customers.models import Customer, CustomerKind, CustomerKindChange, CustomerProfile, IdDocument
from core import audit, crypto
from core.extensions import db
from core.timeutil import utcnow

# The profile fields an opening fills in, by the step that collects them.
CONTACT_FIELDS = ("mobile", "email", "address", "postcode", "occupation", "education", "employer",
                  "tax_residency", "tax_country", "tax_id")
METHOD_FIELDS = ("change_method", "closure_method")
ID_DOCUMENT_FIELDS = ("id_type", "id_number", "name", "sex", "ethnicity", "birth_date", "address", "authority",
                      "valid_from", "valid_to")


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def search_columns(name: str) -> dict:
    return {"name_key": names.name_key(name), "name_pinyin": names.name_pinyin(name),
            "name_initials": names.name_initials(name)}


def profile_values(identity: dict, contact: dict, agreements: dict) -> dict:
    """The profile columns from what an opening's identity, contact and agreements steps saved."""
    values = {"name": identity["name"], "id_type": identity["id_type"], "id_number": identity["id_number"],
              "sex": identity.get("sex"), "birth_date": _date(identity.get("birth_date"))}
    values.update({field: contact.get(field) for field in CONTACT_FIELDS})
    values.update({field: agreements.get(field) for field in METHOD_FIELDS})
    return values


def _indexed(values: dict) -> dict:
    values = dict(values)
    values["id_number_index"] = crypto.blind_index(values["id_number"])
    values["mobile_index"] = crypto.blind_index(values.get("mobile"))
    values.update(search_columns(values["name"]))
    birth = _date(values.get("birth_date"))
    values["birth_month_day"] = f"{birth:%m%d}" if birth else None
    return values


# Packages that keep something derived from the current profile (search keys, duplicate flags)
# register here, so that the customer record imports none of them.
_profile_listeners: list = []


def on_profile_version(listener):
    """Register `listener(customer, profile)`, called after every profile version is added."""
    _profile_listeners.append(listener)
    return listener


def add_profile_version(customer: Customer, values: dict, *, source: str, actor: Staff | None,
                        application_id: int | None = None) -> CustomerProfile:
    """Add the next profile version and make it the customer's current one (nothing is overwritten)."""
    version = (db.session.scalar(select(func.max(CustomerProfile.version))
                                 .where(CustomerProfile.customer_id == customer.id)) or 0) + 1
    profile = CustomerProfile(customer_id=customer.id, version=version, source=source,
                              application_id=application_id, created_by_id=getattr(actor, "id", None),
                              **_indexed(values))
    db.session.add(profile)
    customer.profile_version = version
    db.session.flush()
    db.session.expire(customer, ["profile"])
    for listener in _profile_listeners:
        listener(customer, profile)
    return profile


def current_id_document(customer_id: int) -> IdDocument | None:
    return db.session.scalar(select(IdDocument).where(IdDocument.customer_id == customer_id,
                                                      IdDocument.superseded_at.is_(None))
                             .order_by(IdDocument.version.desc()).limit(1))


def add_id_document(customer: Customer, identity: dict, *, source: str, actor: Staff | None,
                    application_id: int | None = None) -> IdDocument:
    """Record a version of the customer's ID document; the one it replaces is marked superseded."""
    previous = current_id_document(customer.id)
    if previous is not None:
        previous.superseded_at = utcnow()
    document = IdDocument(
        customer_id=customer.id, version=(previous.version + 1) if previous else 1, source=source,
        application_id=application_id, recorded_by_id=getattr(actor, "id", None),
        id_type=identity["id_type"], id_number=identity["id_number"],
        id_number_index=crypto.blind_index(identity["id_number"]), name=identity["name"],
        sex=identity.get("sex"), ethnicity=identity.get("ethnicity"), birth_date=_date(identity.get("birth_date")),
        address=identity.get("address"), authority=identity.get("authority"),
        valid_from=_date(identity.get("valid_from")), valid_to=_date(identity.get("valid_to")))
    db.session.add(document)
    db.session.flush()
    return document


def change_kind(customer: Customer, target: CustomerKind, actor: Staff | None, reason: str) -> None:
    """Move the customer's lifecycle state through the transition table, recording who and why."""
    if customer.kind == target:
        return
    lifecycle.check_kind_change(customer.kind, target)
    db.session.add(CustomerKindChange(customer_id=customer.id, from_kind=customer.kind, to_kind=target,
                                      actor_id=getattr(actor, "id", None), reason=reason[:200]))
    customer.kind = target
    if target == CustomerKind.HISTORICAL:
        customer.closed_at = utcnow()


def _new_customer_no(branch: Branch) -> str:
    while True:
        number = f"C{branch.code}{''.join(secrets.choice('0123456789') for _ in range(6))}"
        if not db.session.scalar(select(func.count()).where(Customer.customer_no == number)):
            return number


def find_by_key_information(id_number_index: str, name: str, id_type: str) -> Customer | None:
    """The customer whose current profile carries these three elements (三要素).

    A record merged into another of the same person answers with the one it was merged into.
    """
    customer = db.session.scalar(select(Customer).where(Customer.id.in_(
        current_profiles().where(CustomerProfile.id_number_index == id_number_index, CustomerProfile.name == name,
                                 CustomerProfile.id_type == id_type).with_only_columns(CustomerProfile.customer_id))))
    while customer is not None and customer.merged_into_id is not None:
        customer = db.session.get(Customer, customer.merged_into_id)
    return customer


def create_customer(*, branch: Branch, values: dict, source: str, actor: Staff | None, reason: str,
                    kind: CustomerKind = CustomerKind.CURRENT, customer_type: str = "individual",
                    customer_no: str | None = None, application_id: int | None = None) -> Customer:
    """A new customer record with its first profile version, in lifecycle state `kind`."""
    customer = Customer(customer_no=customer_no or _new_customer_no(branch), branch_id=branch.id,
                        customer_type=customer_type, kind=kind, profile_version=0)
    db.session.add(customer)
    db.session.flush()
    db.session.add(CustomerKindChange(customer_id=customer.id, from_kind=None, to_kind=kind,
                                      actor_id=getattr(actor, "id", None), reason=reason[:200]))
    add_profile_version(customer, values, source=source, actor=actor, application_id=application_id)
    return customer


def enroll(application, actor: Staff) -> Customer:
    """Create the customer (or join the existing one) from an approved opening application.

    The application's step data stays the frozen record of what was signed; from here on the
    profile is what every other part of the system reads.
    """
    identity = application.step_data("identity") or {}
    values = profile_values(identity, application.step_data("contact") or {},
                            application.step_data("agreements") or {})
    customer = find_by_key_information(application.id_number_index, application.customer_name, application.id_type)
    if customer is None:
        customer = create_customer(branch=db.session.get(Branch, application.branch_id), values=values,
                                   source="opening", actor=actor, kind=CustomerKind.POTENTIAL,
                                   customer_type=application.customer_type, application_id=application.id,
                                   reason=f"开户申请 {application.reference} 复核通过，建立客户档案")
    else:
        # Locked and read afresh: a change approved at the same moment takes the next version after this one.
        customer = db.session.get(Customer, customer.id, with_for_update={"of": Customer}, populate_existing=True)
        add_profile_version(customer, values, source="opening", actor=actor, application_id=application.id)
    current = current_id_document(customer.id)
    if current is None or any(str(getattr(current, f) or "") != str(identity.get(f) or "") for f in ID_DOCUMENT_FIELDS):
        add_id_document(customer, identity, source="opening", actor=actor, application_id=application.id)
    change_kind(customer, CustomerKind.CURRENT, actor, f"开户申请 {application.reference} 复核通过")
    audit.record("customer.enroll", "customer", customer.customer_no, application=application.reference,
                 profile_version=customer.profile_version)
    return customer


def current_profiles():
    """Select the current profile version of every customer."""
    return select(CustomerProfile).join(Customer, and_(Customer.id == CustomerProfile.customer_id,
                                                       Customer.profile_version == CustomerProfile.version))


def profile_versions(customer: Customer) -> list[CustomerProfile]:
    return list(db.session.scalars(select(CustomerProfile).where(CustomerProfile.customer_id == customer.id)
                                   .order_by(CustomerProfile.version.desc())))


def id_documents(customer: Customer) -> list[IdDocument]:
    return list(db.session.scalars(select(IdDocument).where(IdDocument.customer_id == customer.id)
                                   .order_by(IdDocument.version.desc())))


def kind_changes(customer: Customer) -> list[CustomerKindChange]:
    return list(db.session.scalars(select(CustomerKindChange).where(CustomerKindChange.customer_id == customer.id)
                                   .order_by(CustomerKindChange.id.desc())))


def profiles_of(customer_ids) -> dict[int, CustomerProfile]:
    """The current profiles of many customers in one query."""
    ids = set(customer_ids)
    if not ids:
        return {}
    return {p.customer_id: p for p in db.session.scalars(current_profiles().where(CustomerProfile.customer_id.in_(ids)))}


def with_id_number_index(index: str):
    """A condition on Customer: its current profile carries the ID number of this blind index."""
    return Customer.id.in_(current_profiles().where(CustomerProfile.id_number_index == index)
                           .with_only_columns(CustomerProfile.customer_id))


def with_id_number(id_number: str):
    return with_id_number_index(crypto.blind_index(id_number))


def with_name_containing(text: str):
    return Customer.id.in_(current_profiles().where(CustomerProfile.name.contains(text, autoescape=True))
                           .with_only_columns(CustomerProfile.customer_id))

# Customer numbers are letters and digits; anything else cannot match and is not searched for.
CUSTOMER_NO_QUERY = re.compile(r"[A-Za-z0-9]{1,16}")


# Customers staff see besides their own branch's (accounts adds those with an account opened there):
# registered by the packages above, so that customers imports none of them.
_VISIBILITY_SCOPES: list[Callable] = []


def also_visible(scope: Callable) -> Callable:
    """Register `scope(user)`: a condition on Customer under which `user`, outside HQ, also sees a customer."""
    _VISIBILITY_SCOPES.append(scope)
    return scope


# Scopes that narrow what some roles see (customer managers: their assigned customers), registered by
# the packages above, so that customers imports none of them.
_NARROWING_SCOPES: list[Callable] = []


def only_visible(scope: Callable) -> Callable:
    """Register `scope(user)`: a select of the only customer ids `user` may see, or None to leave the scope as is."""
    _NARROWING_SCOPES.append(scope)
    return scope


def visible(user: Staff):
    """Customers `user` may see: all for HQ; otherwise those of the branch or of a registered scope.

    A registered narrowing scope cuts that down further (a customer manager sees the assigned ones only).
    A closed (historical) customer drops out: after closure only archivists read the file; a merged one too:
    it is read through the customer it was merged into (merged_into).
    """
    # Built once per request and user: a page asks it a dozen times (its lists, counts, reminders), and
    # building the statement (the scopes' correlated subqueries) costs more than running it.
    cache = g.setdefault("visible_customers", {}) if has_request_context() else {}
    key = (user.id, user.role, user.branch_id, user.sees_all_branches)
    if key not in cache:
        cache[key] = _visible(user)
    return cache[key]


def _visible(user: Staff):
    query = select(Customer).where(Customer.kind.not_in(lifecycle.ENDED))
    if not user.sees_all_branches:
        query = query.where(or_(Customer.branch_id == user.branch_id,
                                *(scope(user) for scope in _VISIBILITY_SCOPES)))
    for scope in _NARROWING_SCOPES:
        only = scope(user)
        if only is not None:
            query = query.where(Customer.id.in_(only))
    return query


def find_visible(user: Staff, customer_no: str) -> Customer | None:
    return db.session.scalar(visible(user).where(Customer.customer_no == customer_no))


def merged_into(customer: Customer, merged_no: str) -> Customer | None:
    """The record `merged_no` if it was merged into `customer` (seen through it), else None."""
    return db.session.scalar(select(Customer).where(Customer.customer_no == merged_no,
                                                    Customer.merged_into_id == customer.id))


def branch(branch_id: int) -> Branch | None:
    return db.session.get(Branch, branch_id)


def staff_names_of(customer: Customer) -> dict[int, str]:
    """The names of the staff who recorded any of the customer's versions and lifecycle moves, in one query."""
    ids = set(db.session.scalars(select(CustomerProfile.created_by_id).where(CustomerProfile.customer_id == customer.id)))
    ids |= set(db.session.scalars(select(CustomerKindChange.actor_id).where(CustomerKindChange.customer_id == customer.id)))
    ids.discard(None)
    if not ids:
        return {}
    return dict(db.session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(ids))).all())


def customers_by_id(ids) -> dict[int, Customer]:
    ids = set(ids)
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))}
