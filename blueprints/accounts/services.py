"""Opening the accounts after approval, and recording what the external systems answered."""
import secrets
from typing import Callable

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from blueprints.accounts.china_clearing import OpenAccountsRequest
from blueprints.accounts.depository_bank import BindRequest
from blueprints.accounts import lifecycle
from blueprints.accounts.models import (AccountStatus, AccountStatusChange, BindingStatus, DepositoryBinding, FundAccount,
                                        SecuritiesAccount)
from blueprints.auth.models import Branch, Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind
from blueprints.opening.models import Application
from core import audit, outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage
from core.timeutil import utcnow

OPEN_ACCOUNTS = "csdc.open_accounts"
BIND_DEPOSITORY = "bank.bind_depository"
MARKETS_OPENED = ("SH", "SZ")
SYSTEM_LABELS = {OPEN_ACCOUNTS: "中国结算", BIND_DEPOSITORY: "存管银行"}
# The opening's own topics; other businesses register theirs in SYSTEM_LABELS for the exceptions screen.
SYSTEM_LABELS_OF_OPENING = tuple(SYSTEM_LABELS)


def _random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _unique(model_column, make) -> str:
    value = make()
    while db.session.scalar(select(func.count()).where(model_column == value)):
        value = make()
    return value


def transition_account(account, target: AccountStatus, actor: Staff | None, reason: str) -> None:
    """Move a fund or securities account through the accounts' transition table, recording it."""
    if account.status == target:
        return
    lifecycle.check_transition(account.status, target)
    is_fund = isinstance(account, FundAccount)
    db.session.add(AccountStatusChange(
        fund_account_id=account.id if is_fund else account.fund_account_id,
        securities_account_id=None if is_fund else account.id,
        from_status=account.status, to_status=target, actor_id=getattr(actor, "id", None), reason=reason[:200]))
    account.status = target


def activate(fund_account: FundAccount, actor: Staff, reason: str) -> None:
    """Activate the fund account and its inactive securities accounts (after a passed return visit)."""
    transition_account(fund_account, AccountStatus.ACTIVE, actor, reason)
    fund_account.activated_at = utcnow()
    for account in db.session.scalars(select(SecuritiesAccount).where(
            SecuritiesAccount.fund_account_id == fund_account.id, SecuritiesAccount.status == AccountStatus.INACTIVE)):
        transition_account(account, AccountStatus.ACTIVE, actor, reason)
    audit.record("accounts.activate", "fund_account", fund_account.number)


def open_accounts(application: Application, customer: Customer, actor: Staff, bank_code: str,
                  bank_card: str) -> FundAccount:
    """Create the fund account and queue the China Clearing and bank requests (same transaction).

    What is sent is the customer's profile as approved; the bank card is the one the customer
    chose at opening.
    """
    branch = db.session.get(Branch, application.branch_id)
    profile = customer.profile
    # Branch prefix plus random digits: unique, and no customer can guess a neighbour's number.
    fund_account = FundAccount(
        number=_unique(FundAccount.number, lambda: f"{branch.code}{_random_digits(8)}"),
        branch_id=branch.id, customer_id=customer.id, application_id=application.id,
        status=AccountStatus.OPENING, channel=application.channel,
    )
    db.session.add(fund_account)
    db.session.flush()
    db.session.add(DepositoryBinding(fund_account_id=fund_account.id, bank_code=bank_code,
                                     bank_card=bank_card, status=BindingStatus.PENDING))
    outbox.enqueue(OPEN_ACCOUNTS, f"{OPEN_ACCOUNTS}:{application.reference}", {
        "fund_account_id": fund_account.id, "name": profile.name,
        "id_type": profile.id_type, "id_number": profile.id_number, "markets": list(MARKETS_OPENED),
        "mobile": profile.mobile, "address": profile.address, "postcode": profile.postcode,
    }, application_id=application.id, customer_id=customer.id)
    outbox.enqueue(BIND_DEPOSITORY, f"{BIND_DEPOSITORY}:{application.reference}", {
        "fund_account_id": fund_account.id, "fund_account_no": fund_account.number,
        "bank_code": bank_code, "bank_card": bank_card,
        "name": profile.name, "id_number": profile.id_number,
    }, application_id=application.id, customer_id=customer.id)
    audit.record("accounts.open_requested", "application", application.reference, fund_account=fund_account.number)
    db.session.flush()
    return fund_account


def fund_account_of(application: Application) -> FundAccount | None:
    return db.session.scalar(select(FundAccount).where(FundAccount.application_id == application.id))


def accounts_of(user: Staff, customer: Customer) -> list[dict]:
    """The customer's fund accounts the user may see, each with its securities accounts and depository."""
    query = select(FundAccount).where(FundAccount.customer_id == customer.id)
    if not user.sees_all_branches:
        query = query.where(FundAccount.branch_id == user.branch_id)
    fund_accounts = list(db.session.scalars(query.order_by(FundAccount.opened_at, FundAccount.id)))
    ids = [account.id for account in fund_accounts]
    securities, bindings, branches = {}, {}, {}
    if ids:
        for account in db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.fund_account_id.in_(ids))
                                          .order_by(SecuritiesAccount.market)):
            securities.setdefault(account.fund_account_id, []).append(account)
        bindings = {b.fund_account_id: b for b in db.session.scalars(
            select(DepositoryBinding).where(DepositoryBinding.fund_account_id.in_(ids)))}
        branches = {b.id: b for b in db.session.scalars(
            select(Branch).where(Branch.id.in_({account.branch_id for account in fund_accounts})))}
    return [{
        "fund_account": account,
        "branch": branches.get(account.branch_id),
        "securities": securities.get(account.id, []),
        "depository": bindings.get(account.id),
    } for account in fund_accounts]


@customer_services.also_visible
def _opened_at_the_branch(user: Staff):
    """Staff also see the customers whose accounts were opened at their branch.

    Correlated (one indexed probe per customer looked at), not IN (...): a search that stops after
    20 rows must not first collect every account the branch ever opened.
    """
    account = aliased(FundAccount)  # apart from any FundAccount the caller joins
    # OFFSET 0: under an OR, PostgreSQL would otherwise turn the probe into a hashed subplan that
    # reads every account the branch ever opened on each query (a tenth of a second at a million).
    return (select(account.id).where(account.customer_id == Customer.id, account.branch_id == user.branch_id)
            .correlate(Customer).offset(0).exists())


def pending_requests(application: Application) -> list[OutboxMessage]:
    """The opening requests of this application that are not yet delivered (a later closure's are its own)."""
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.application_id == application.id, OutboxMessage.status != MessageStatus.DELIVERED,
        OutboxMessage.topic.in_(SYSTEM_LABELS_OF_OPENING),
    ).order_by(OutboxMessage.id)))


# What happens once an application's accounts are open (the return visit starts): the package
# that carries the opening on registers it here, so that accounts imports none of it.
_WHEN_OPENED: list[Callable[[Application, FundAccount, str], None]] = []


def when_opened(callback):
    """Register `callback(application, fund_account, note)`, called once the accounts are open."""
    _WHEN_OPENED.append(callback)
    return callback


def _finish_if_complete(application_id: int) -> None:
    """Open the fund account once no external request of its opening is still open.

    A request is open while it is pending or refused; a cancelled bank binding does not hold
    the opening up (the customer binds a card later), a cancelled China Clearing request has
    already failed the fund account. The fund account's row is locked, so two answers
    applied at once move it only once.
    """
    fund_account = db.session.scalar(select(FundAccount).where(FundAccount.application_id == application_id)
                                     .with_for_update())
    if fund_account is None or fund_account.status != AccountStatus.OPENING:
        return
    still_open = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.application_id == application_id, OutboxMessage.topic.in_(SYSTEM_LABELS_OF_OPENING),
        OutboxMessage.status.in_((MessageStatus.PENDING, MessageStatus.REJECTED))))
    if still_open:
        return
    binding = db.session.scalar(select(DepositoryBinding).where(DepositoryBinding.fund_account_id == fund_account.id))
    note = "账户开立完成，待回访"
    if binding is not None and binding.status == BindingStatus.FAILED:
        note = "账户开立完成（第三方存管未绑定，须另行办理），待回访"
    transition_account(fund_account, AccountStatus.INACTIVE, None, note)
    application = db.session.get(Application, application_id)
    for callback in _WHEN_OPENED:
        callback(application, fund_account, note)


def _record_rejection(action: str, message: OutboxMessage, reason: str) -> None:
    application = db.session.get(Application, message.application_id)
    audit.record(action, "application", application.reference, actor_name="outbox-worker", reason=reason[:200])


def _binding_of(message: OutboxMessage) -> DepositoryBinding:
    return db.session.scalar(select(DepositoryBinding).where(
        DepositoryBinding.fund_account_id == message.payload["fund_account_id"]))


def _fail_opening(message: OutboxMessage, reason: str, actor: Staff) -> None:
    """China Clearing's refusal was cancelled: no securities account, so the opening has failed.

    The fund account is marked failed (nothing is deleted) and a refused bank binding of the
    same application is cancelled with it; the approved application stays as it was decided,
    and the customer may apply again. A bank binding still on its way is left to finish: what
    the bank did is recorded, and unbinding belongs to closure.
    """
    fund_account = db.session.get(FundAccount, message.payload["fund_account_id"])
    transition_account(fund_account, AccountStatus.FAILED, actor, f"中国结算拒绝开户，请求已撤销：{reason}")
    for sibling in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.application_id == message.application_id, OutboxMessage.id != message.id,
            OutboxMessage.status == MessageStatus.REJECTED).with_for_update()):
        outbox.cancel(sibling, actor, f"随中国结算开户请求一并撤销：{reason}")
    customer = db.session.get(Customer, fund_account.customer_id)
    others = db.session.scalar(select(func.count()).select_from(FundAccount).where(
        FundAccount.customer_id == customer.id, FundAccount.id != fund_account.id,
        FundAccount.status != AccountStatus.FAILED))
    if not others:
        # No account was opened for them after all.
        customer_services.change_kind(customer, CustomerKind.POTENTIAL, actor, f"开户失败：{reason}")


@outbox.handler(OPEN_ACCOUNTS)
class OpenAccountsHandler:
    @property
    def simulated(self) -> bool:
        return bool(current_app.extensions["china_clearing"].simulated)

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        request = OpenAccountsRequest(name=payload["name"], id_type=payload["id_type"],
                                      id_number=payload["id_number"], markets=tuple(payload["markets"]),
                                      mobile=payload.get("mobile"), address=payload.get("address"),
                                      postcode=payload.get("postcode"))
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

    def on_cancelled(self, message: OutboxMessage, reason: str, actor: Staff) -> None:
        _fail_opening(message, reason, actor)


@outbox.handler(BIND_DEPOSITORY)
class BindDepositoryHandler:
    @property
    def simulated(self) -> bool:
        return bool(current_app.extensions["depository_bank"].simulated)

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        request = BindRequest(bank_code=payload["bank_code"], bank_card=payload["bank_card"],
                              fund_account_no=payload["fund_account_no"], name=payload["name"],
                              id_number=payload["id_number"])
        return current_app.extensions["depository_bank"].bind(request, idempotency_key)

    def apply(self, message: OutboxMessage, result: dict) -> None:
        binding = _binding_of(message)
        binding.status = BindingStatus.BOUND
        binding.bank_reference = result["bank_reference"]
        binding.simulated = bool(result.get("simulated"))
        binding.bound_at = utcnow()
        _finish_if_complete(message.application_id)

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        binding = _binding_of(message)
        binding.status = BindingStatus.REJECTED
        binding.message = reason[:200]
        _record_rejection("accounts.bank_rejected", message, reason)

    def on_resent(self, message: OutboxMessage, changes: dict, actor: Staff) -> None:
        # The binding shows the card now on its way to the bank.
        binding = _binding_of(message)
        binding.bank_code = message.payload["bank_code"]
        binding.bank_card = message.payload["bank_card"]
        binding.status = BindingStatus.PENDING
        binding.message = None

    def on_cancelled(self, message: OutboxMessage, reason: str, actor: Staff) -> None:
        """Not bound: the accounts open without a depository, which the customer arranges later."""
        binding = _binding_of(message)
        binding.status = BindingStatus.FAILED
        binding.message = f"请求已撤销：{reason}"[:200]
        _finish_if_complete(message.application_id)
