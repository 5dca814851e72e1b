"""Opening the accounts after approval, and recording what the external systems answered."""
import secrets

from flask import current_app
from sqlalchemy import func, select

from blueprints.accounts.china_clearing import OpenAccountsRequest
from blueprints.accounts.depository_bank import BindRequest
from blueprints.accounts.models import AccountStatus, BindingStatus, DepositoryBinding, FundAccount, SecuritiesAccount
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer, CustomerKind
from blueprints.opening.models import Application
from blueprints.opening.workflow import Status
from core import audit, outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage
from core.timeutil import utcnow

OPEN_ACCOUNTS = "csdc.open_accounts"
BIND_DEPOSITORY = "bank.bind_depository"
MARKETS_OPENED = ("SH", "SZ")
SYSTEM_LABELS = {OPEN_ACCOUNTS: "中国结算", BIND_DEPOSITORY: "存管银行"}


def _random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _unique(model_column, make) -> str:
    value = make()
    while db.session.scalar(select(func.count()).where(model_column == value)):
        value = make()
    return value


def customer_for(application: Application, branch: Branch) -> Customer:
    """The customer this application is for: the existing one with this ID number, or a new one."""
    customer = db.session.scalar(select(Customer).where(Customer.id_number_index == application.id_number_index,
                                                        Customer.name == application.customer_name,
                                                        Customer.id_type == application.id_type))
    if customer is not None:
        customer.kind = CustomerKind.CURRENT
        return customer
    customer = Customer(
        customer_no=_unique(Customer.customer_no, lambda: f"C{branch.code}{_random_digits(6)}"),
        branch_id=branch.id, name=application.customer_name, id_type=application.id_type,
        id_number=application.id_number, id_number_index=application.id_number_index,
        kind=CustomerKind.CURRENT,
    )
    db.session.add(customer)
    db.session.flush()
    return customer


def open_accounts(application: Application, actor: Staff) -> FundAccount:
    """Create the fund account and queue the China Clearing and bank requests (same transaction)."""
    branch = db.session.get(Branch, application.branch_id)
    customer = customer_for(application, branch)
    # Branch prefix plus random digits: unique, and no customer can guess a neighbour's number.
    fund_account = FundAccount(
        number=_unique(FundAccount.number, lambda: f"{branch.code}{_random_digits(8)}"),
        branch_id=branch.id, customer_id=customer.id, application_id=application.id,
        status=AccountStatus.OPENING,
    )
    db.session.add(fund_account)
    db.session.flush()
    depository = application.step_data("agreements") or {}
    db.session.add(DepositoryBinding(fund_account_id=fund_account.id, bank_code=depository["bank_code"],
                                     bank_card=depository["bank_card"], status=BindingStatus.PENDING))
    outbox.enqueue(OPEN_ACCOUNTS, f"{OPEN_ACCOUNTS}:{application.reference}", {
        "fund_account_id": fund_account.id, "name": application.customer_name,
        "id_type": application.id_type, "id_number": application.id_number, "markets": list(MARKETS_OPENED),
    }, application_id=application.id)
    outbox.enqueue(BIND_DEPOSITORY, f"{BIND_DEPOSITORY}:{application.reference}", {
        "fund_account_id": fund_account.id, "fund_account_no": fund_account.number,
        "bank_code": depository["bank_code"], "bank_card": depository["bank_card"],
        "name": application.customer_name, "id_number": application.id_number,
    }, application_id=application.id)
    audit.record("accounts.open_requested", "application", application.reference, fund_account=fund_account.number)
    db.session.flush()
    return fund_account


def fund_account_of(application: Application) -> FundAccount | None:
    return db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))


def pending_requests(application: Application) -> list[OutboxMessage]:
    """The external requests of this application that are not yet delivered."""
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.application_id == application.id, OutboxMessage.status != MessageStatus.DELIVERED,
    ).order_by(OutboxMessage.id)))


def _finish_if_complete(application_id: int) -> None:
    """Move the application on once every external request has been delivered."""
    from blueprints.opening import services as opening_services

    application = db.session.get(Application, application_id, with_for_update=True)
    if application.status != Status.ACCOUNTS_OPENING:
        return
    undelivered = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.application_id == application_id, OutboxMessage.status != MessageStatus.DELIVERED))
    if undelivered == 0:
        fund_account = db.session.scalar(select(FundAccount).where(FundAccount.application_id == application_id))
        fund_account.status = AccountStatus.INACTIVE
        opening_services.transition(application, Status.AWAITING_RETURN_VISIT, None, reason="账户开立完成，待回访")


def _record_rejection(action: str, message: OutboxMessage, reason: str) -> None:
    application = db.session.get(Application, message.application_id)
    audit.record(action, "application", application.reference, actor_name="outbox-worker", reason=reason[:200])


@outbox.handler(OPEN_ACCOUNTS)
class OpenAccountsHandler:
    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        request = OpenAccountsRequest(name=payload["name"], id_type=payload["id_type"],
                                      id_number=payload["id_number"], markets=tuple(payload["markets"]))
        return current_app.extensions["china_clearing"].open_accounts(request, idempotency_key)

    def apply(self, message: OutboxMessage, result: dict) -> None:
        fund_account = db.session.get(FundAccount, message.payload["fund_account_id"])
        customer = db.session.get(Customer, fund_account.customer_id)
        customer.unified_account_no = result["unified_account_no"]
        for sub in result["sub_accounts"]:
            db.session.add(SecuritiesAccount(
                customer_id=customer.id, fund_account_id=fund_account.id, market=sub["market"],
                number=sub["number"], unified_account_no=result["unified_account_no"],
                status=AccountStatus.INACTIVE, simulated=bool(result.get("simulated")),
            ))
        db.session.flush()
        _finish_if_complete(message.application_id)

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        _record_rejection("accounts.csdc_rejected", message, reason)


@outbox.handler(BIND_DEPOSITORY)
class BindDepositoryHandler:
    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        request = BindRequest(bank_code=payload["bank_code"], bank_card=payload["bank_card"],
                              fund_account_no=payload["fund_account_no"], name=payload["name"],
                              id_number=payload["id_number"])
        return current_app.extensions["depository_bank"].bind(request, idempotency_key)

    def apply(self, message: OutboxMessage, result: dict) -> None:
        binding = db.session.scalar(select(DepositoryBinding).where(
            DepositoryBinding.fund_account_id == message.payload["fund_account_id"]))
        binding.status = BindingStatus.BOUND
        binding.bank_reference = result["bank_reference"]
        binding.simulated = bool(result.get("simulated"))
        binding.bound_at = utcnow()
        _finish_if_complete(message.application_id)

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        binding = db.session.scalar(select(DepositoryBinding).where(
            DepositoryBinding.fund_account_id == message.payload["fund_account_id"]))
        binding.status = BindingStatus.REJECTED
        binding.message = reason[:200]
        _record_rejection("accounts.bank_rejected", message, reason)
