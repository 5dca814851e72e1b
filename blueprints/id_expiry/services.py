"""Restricting customers whose ID document expired and was not renewed, and lifting it when it is."""
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from blueprints.accounts.lifecycle import AccountStatus
from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.accounts.services import transition_account
from blueprints.auth.models import Staff
from blueprints.customers import services as customer_services
from blueprints.customers.lifecycle import ENDED
from blueprints.customers.models import Customer, IdDocument
from blueprints.id_expiry import rules
from blueprints.id_expiry.models import IdExpiryRestriction
from core import audit
from core.extensions import db
from core.timeutil import business_today, utcnow

# Only accounts in use are restricted: dormant ones are already stopped (reactivation re-checks the
# document), closing and closed ones are the closure's, which this restriction never blocks.
RESTRICTABLE = frozenset({AccountStatus.ACTIVE})
COMPLETE_DATA = "完善资料"


def grace_days() -> int:
    return int(current_app.config.get("ID_EXPIRY_GRACE_DAYS", rules.DEFAULT_GRACE_DAYS))


def open_restriction(customer_id: int) -> IdExpiryRestriction | None:
    return db.session.scalar(select(IdExpiryRestriction).where(IdExpiryRestriction.open_customer_id == customer_id))


def history(customer_id: int) -> list[IdExpiryRestriction]:
    return list(db.session.scalars(select(IdExpiryRestriction).where(IdExpiryRestriction.customer_id == customer_id)
                                   .order_by(IdExpiryRestriction.id.desc())))


def refusal_message(restriction: IdExpiryRestriction) -> str:
    return (f"客户身份证件已于 {restriction.valid_to} 到期，超过 {restriction.grace_days} 天未更新，业务已限制。"
            f"须先办理{COMPLETE_DATA}（客户持有效身份证件，办理证件有效期更新），再办理本业务；销户不受此限制。")


def refusal(customer: Customer) -> str | None:
    """Why a business that needs a valid document is refused for this customer now, or None."""
    restriction = open_restriction(customer.id)
    return refusal_message(restriction) if restriction is not None else None


def records_valid_document(after: dict, today: date | None = None) -> bool:
    """Whether a change's values record an ID document valid today: the 完善资料 itself."""
    valid_to = after.get("id_valid_to")
    valid_to = date.fromisoformat(valid_to) if isinstance(valid_to, str) and valid_to else valid_to
    return rules.document_valid(valid_to or None, today or business_today()) and bool(after.get("id_valid_from"))


@dataclass(frozen=True)
class Run:
    checked: int
    restricted: int
    accounts: int
    lifted: int


def _restrict_accounts(restriction: IdExpiryRestriction, customer_id: int, reason: str) -> int:
    previous = {"fund": dict(restriction.previous_statuses.get("fund", {})),
                "securities": dict(restriction.previous_statuses.get("securities", {}))}
    moved = 0
    for fund in db.session.scalars(select(FundAccount).where(FundAccount.customer_id == customer_id,
                                                             FundAccount.status.in_(RESTRICTABLE))
                                   .order_by(FundAccount.id)):
        previous["fund"][str(fund.id)] = str(fund.status)
        transition_account(fund, AccountStatus.RESTRICTED, None, reason)
        moved += 1
    for account in db.session.scalars(select(SecuritiesAccount).where(
            SecuritiesAccount.customer_id == customer_id, SecuritiesAccount.status.in_(RESTRICTABLE))
            .order_by(SecuritiesAccount.id)):
        previous["securities"][str(account.id)] = str(account.status)
        transition_account(account, AccountStatus.RESTRICTED, None, reason)
        moved += 1
    restriction.previous_statuses = previous  # a new dict: the JSON column sees the change
    return moved


def restrict_expired(today: date | None = None, grace: int | None = None) -> Run:
    """Restrict every customer whose current document expired more than `grace` days ago; lift the renewed.

    A second run changes nothing; a customer already restricted has accounts activated since then
    restricted too. Customers whose document on record is valid again (a new opening recorded one)
    are lifted.
    """
    today, grace = today or business_today(), grace_days() if grace is None else grace
    last = rules.latest_valid_to_restricted(today, grace)
    due = db.session.execute(select(Customer.id, IdDocument.id, IdDocument.valid_to).join(
        IdDocument, and_(IdDocument.customer_id == Customer.id, IdDocument.superseded_at.is_(None))).where(
        IdDocument.valid_to <= last, Customer.kind.not_in(ENDED)).order_by(Customer.id)).all()
    restricted = accounts = 0
    for customer_id, document_id, valid_to in due:
        restriction = open_restriction(customer_id)
        reason = f"证件过期限制：身份证件 {valid_to} 到期，超过 {grace} 天未更新"
        if restriction is None:
            restriction = IdExpiryRestriction(customer_id=customer_id, open_customer_id=customer_id,
                                              id_document_id=document_id, valid_to=valid_to, grace_days=grace,
                                              reason=reason, previous_statuses={})
            try:
                with db.session.begin_nested():
                    db.session.add(restriction)
            except IntegrityError:  # another run restricted this customer a moment ago
                restriction = open_restriction(customer_id)
                if restriction is None:
                    raise
            else:
                restricted += 1
                audit.record("customer.id_expiry_restrict", "customer",
                             db.session.get(Customer, customer_id).customer_no, actor_name="restrict-expired",
                             valid_to=str(valid_to), grace_days=grace)
        accounts += _restrict_accounts(restriction, customer_id, reason)
    lifted = 0
    for restriction in list(db.session.scalars(select(IdExpiryRestriction).where(
            IdExpiryRestriction.open_customer_id.is_not(None)))):
        document = customer_services.current_id_document(restriction.customer_id)
        if document is not None and rules.document_valid(document.valid_to, today):
            _lift(restriction, None, f"客户档案中已有有效身份证件（有效期至 {document.valid_to or '长期'}）")
            lifted += 1
    db.session.flush()
    return Run(len(due), restricted, accounts, lifted)


def _lift(restriction: IdExpiryRestriction, actor: Staff | None, reason: str) -> None:
    """Put each account still restricted back where it was; accounts closed since then stay closed."""
    text = f"解除证件过期限制：{reason}"
    previous = restriction.previous_statuses or {}
    for model, part in ((FundAccount, "fund"), (SecuritiesAccount, "securities")):
        for account_id, status in previous.get(part, {}).items():
            account = db.session.get(model, int(account_id))
            if account is not None and account.status == AccountStatus.RESTRICTED:
                transition_account(account, AccountStatus(status), actor, text)
    restriction.open_customer_id = None
    restriction.lifted_at, restriction.lifted_by_id = utcnow(), getattr(actor, "id", None)
    restriction.lift_reason = reason[:200]
    customer = db.session.get(Customer, restriction.customer_id)
    audit.record("customer.id_expiry_lift", "customer", customer.customer_no, actor=actor,
                 **({} if actor else {"actor_name": "restrict-expired"}), reason=reason[:200])


def lift_if_renewed(customer: Customer, actor: Staff | None, reason: str, today: date | None = None) -> bool:
    """After a change recorded a document: lift the customer's restriction if that document is valid."""
    restriction = open_restriction(customer.id)
    if restriction is None:
        return False
    document = customer_services.current_id_document(customer.id)
    if document is None or not rules.document_valid(document.valid_to, today or business_today()):
        return False
    _lift(restriction, actor, reason)
    db.session.flush()
    return True


def panel_for(customer: Customer) -> dict:
    """The restriction's part of the customer page: the open one (if any) and the history."""
    restrictions = history(customer.id)
    current = next((r for r in restrictions if r.is_open), None)
    return {"id_restriction": current, "id_restrictions": restrictions,
            "id_restriction_message": refusal_message(current) if current else None}
