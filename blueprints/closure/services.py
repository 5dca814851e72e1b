"""Closure (销户) and dormancy (休眠): pre-check, submission, same-terminal review, the closure steps, reactivation."""
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import current_app, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from blueprints.accounts import closure_rules, exceptions
from blueprints.accounts.closure_rules import Condition
from blueprints.accounts.forms import ResendForm
from blueprints.accounts.lifecycle import LIVE, AccountStatus
from blueprints.accounts.models import FundAccount, SecuritiesAccount
from blueprints.accounts.services import accounts_of, transition_account
from blueprints.auth.models import Staff
from blueprints.closure.models import (CLOSURE_TRANSITIONS, REACTIVATION_TRANSITIONS, STEP_LABELS, AccountClosure,
                                       AccountReactivation, ClosureDecision, ClosureStatus, ClosureStep,
                                       ClosureStepRecord, FundAccountBusiness, ReactivationStatus, move)
from blueprints.changes import services as customer_changes
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer, CustomerKind
from blueprints.customers.review_rules import checker_refusal
from blueprints.id_expiry import services as id_expiry
from blueprints.opening.models import Application
from core import audit, outbox
from core.choices import CLOSURE_METHODS
from core.extensions import db
from core.outbox import DELIVERY_LABELS, MessageStatus, OutboxMessage, Rejected, TransientError
from core.roles import Role
from core.timeutil import business_today, to_beijing, utcnow

# The only closure method this release carries out (第十三条); the others are done their own way.
COUNTER = "counter"
CLOSABLE = frozenset({AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.DORMANT, AccountStatus.RESTRICTED})
RETENTION_YEARS = 20
VIEW_ROLES = (Role.CLERK, Role.REVIEWER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
CLOSURE_BUSINESS = "销户业务"
REACTIVATION_BUSINESS = "休眠账户激活业务"

TOPICS = {
    ClosureStep.FUNDS_OUT: "closure.funds_out",
    ClosureStep.UNBIND: "closure.unbind",
    ClosureStep.FUND_ACCOUNT: "closure.fund_account",
    ClosureStep.SUB_ACCOUNTS: "closure.sub_accounts",
    ClosureStep.UNIFIED_ACCOUNT: "closure.unified_account",
}
SYSTEMS = {
    ClosureStep.FUNDS_OUT: "存管银行",
    ClosureStep.UNBIND: "存管银行",
    ClosureStep.FUND_ACCOUNT: "本公司集中交易",
    ClosureStep.SUB_ACCOUNTS: "中国结算",
    ClosureStep.UNIFIED_ACCOUNT: "中国结算",
}
# What a not-yet-queued step shows, next to the outbox's own four delivery labels.
NOT_QUEUED = "待处理"


class ClosureRefused(Exception):
    """The closure or reactivation cannot go ahead; `messages` say why, in Chinese."""

    def __init__(self, message: str, conditions: list[Condition] | None = None, status: int = 422):
        super().__init__(message)
        self.conditions = conditions or []
        self.status = status


# -- finding customers and businesses within the user's branch


def _in_branch(user: Staff, customer: Customer) -> bool:
    """The branch half of customers.services.visible, for a historical customer that visible() leaves out."""
    if user.sees_all_branches or customer.branch_id == user.branch_id:
        return True
    return bool(db.session.scalar(select(func.count()).select_from(FundAccount).where(
        FundAccount.customer_id == customer.id, FundAccount.branch_id == user.branch_id)))


def find_customer(user: Staff, customer_no: str) -> tuple[Customer | None, bool]:
    """The customer `user` may see, and whether they are closed (historical): (None, False) when not theirs."""
    customer = customer_services.find_visible(user, customer_no)
    if customer is not None:
        return customer, False
    closed = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no,
                                                      Customer.kind == CustomerKind.HISTORICAL))
    if closed is not None and _in_branch(user, closed):
        return closed, True
    return None, False


def historical_message(customer: Customer) -> str:
    return (f"客户 {customer.customer_no} 已销户（历史客户），档案仅作保存，不能再办理业务或修改资料。"
            "如客户重新开户，请办理开户。")


def _find(model: type[FundAccountBusiness], user: Staff, reference: str, for_update: bool):
    query = select(model).where(model.reference == reference)
    if not user.sees_all_branches:
        query = query.where(model.branch_id == user.branch_id)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


def find_closure(user: Staff, reference: str, for_update: bool = False) -> AccountClosure | None:
    return _find(AccountClosure, user, reference, for_update)


def find_reactivation(user: Staff, reference: str, for_update: bool = False) -> AccountReactivation | None:
    return _find(AccountReactivation, user, reference, for_update)


def fund_accounts_for(user: Staff, customer: Customer) -> list[FundAccount]:
    """The customer's fund accounts opened at the user's branch (all for HQ)."""
    return [entry["fund_account"] for entry in accounts_of(user, customer)]


def fund_account_of(user: Staff, customer: Customer, number: str) -> FundAccount | None:
    return next((account for account in fund_accounts_for(user, customer) if account.number == number), None)


# -- the pre-check


@dataclass
class Precheck:
    """Every closure condition for one fund account, with the facts gathered live for it."""

    fund_account: FundAccount
    conditions: list[Condition]
    refusal: str | None = None  # the account or the customer cannot be closed at all
    simulated: bool = False
    facts: dict = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.refusal is not None or closure_rules.blocks(self.conditions)

    @property
    def failed(self) -> list[Condition]:
        return [condition for condition in self.conditions if not condition.passed]


def undelivered_count(customer_id: int) -> int:
    """The customer's requests to external systems not yet delivered (nor given up)."""
    applications = select(Application.id).where(Application.customer_id == customer_id)
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        or_(OutboxMessage.customer_id == customer_id, OutboxMessage.application_id.in_(applications)),
        OutboxMessage.status.not_in((MessageStatus.DELIVERED, MessageStatus.CANCELLED)))) or 0


def method_refusal(customer: Customer) -> str | None:
    """Closure goes the way agreed at opening (第十三条); only the counter way is done here."""
    method = customer.profile.closure_method
    if method in (None, COUNTER):
        return None
    return (f"该客户开户时约定的销户方式为“{CLOSURE_METHODS.get(method, method)}”，须按约定方式办理，"
            "不能在柜台办理销户。")


@dataclass(frozen=True)
class Facts:
    """What the trading system and the bank say about one fund account right now."""

    position: dict | None = None
    balance: Decimal | None = None
    error: str | None = None  # a system could not be asked

    @property
    def simulated(self) -> bool:
        return bool(self.position and self.position.get("simulated"))


def live_facts(numbers) -> dict[str, Facts]:
    """Ask the trading system and the depository bank about each fund account.

    Call with no database transaction open: the simulators answer on their own connection,
    and SQLite lets one writer in at a time.
    """
    trading = current_app.extensions["trading"]
    bank = current_app.extensions["depository_bank"]
    facts = {}
    for number in numbers:
        try:
            facts[number] = Facts(trading.position(number), Decimal(bank.balance(number)["balance"]))
        except (TransientError, Rejected) as error:
            facts[number] = Facts(error=str(error))
    return facts


def precheck(customer: Customer, fund_account: FundAccount, facts: Facts,
             ignore_closure: AccountClosure | None = None) -> Precheck:
    """Every closure condition of the fund account, from `facts` (asked just now: things change)."""
    refusal = None
    if customer.kind == CustomerKind.HISTORICAL:
        refusal = historical_message(customer)
    elif (method := method_refusal(customer)) is not None:
        refusal = method
    elif AccountStatus(fund_account.status) not in CLOSABLE:
        refusal = f"资金账户 {fund_account.number} 当前为“{fund_account.status_label}”，不能办理销户。"
    else:
        holder = open_closure_of(fund_account.id)
        if holder is not None and holder is not ignore_closure:
            refusal = f"资金账户 {fund_account.number} 已有销户业务 {holder.reference}（{holder.status_label}）。"
    if facts.error is not None:
        unavailable = Condition("systems_reachable", "外部系统可查询", False, f"{facts.error}，请稍后重新检查")
        return Precheck(fund_account, [unavailable], refusal)
    position = facts.position
    conditions = closure_rules.precheck(
        holdings=position["holdings"], open_orders=position["open_orders"], in_transit=position["in_transit"],
        fund_balance=facts.balance, frozen=position["frozen"], margin_account=position["margin_account"],
        designated_sh=position["designated_sh"], pending_changes=customer_changes.open_change_count(customer.id),
        undelivered_messages=undelivered_count(customer.id), option_account=position.get("option_account", False),
        permissions=position.get("permissions", []), credited_today=position.get("credited_today", Decimal("0")))
    return Precheck(fund_account, conditions, refusal, simulated=facts.simulated,
                    facts={"balance": facts.balance, "last_trade_on": position.get("last_trade_on")})


def _snapshot(check: Precheck) -> list[dict]:
    return [{"key": c.key, "label": c.label, "passed": c.passed, "detail": c.detail} for c in check.conditions]


def _refuse_unless_clear(check: Precheck, what: str) -> None:
    if check.refusal:
        raise ClosureRefused(check.refusal, status=409)
    if check.blocked:
        raise ClosureRefused(f"销户条件未全部满足，不能{what}：" + "；".join(c.label for c in check.failed),
                             check.failed)


# -- the closure business


def open_closure_of(fund_account_id: int) -> AccountClosure | None:
    return db.session.scalar(select(AccountClosure).where(AccountClosure.open_fund_account_id == fund_account_id))


def _new_reference(prefix: str, model) -> str:
    while True:
        reference = f"{prefix}{to_beijing(utcnow()):%Y%m%d}{''.join(secrets.choice('0123456789') for _ in range(6))}"
        if not db.session.scalar(select(func.count()).where(model.reference == reference)):
            return reference


def _made_with(model: type[FundAccountBusiness], client_token: str, actor_id: int):
    """The business a start form's client token already made, or None; refused when another clerk made it
    (a replayed or copied form: the token never names, or leads to, someone else's business)."""
    made = db.session.scalar(select(model).where(model.client_token == client_token))
    if made is not None and made.created_by_id != actor_id:
        raise ClosureRefused("该页面已失效，请刷新页面后重新提交。", status=409)
    return made


def _add_once(business: FundAccountBusiness, taken: Callable[[], str]):
    """Add a new business (None), or give back the one its client token made first: the same click twice at once.

    A colleague's business of the same fund account that got in first refuses with `taken()`.
    """
    try:
        with db.session.begin_nested():
            db.session.add(business)
    except IntegrityError:
        same = _made_with(type(business), business.client_token, business.created_by_id)
        if same is not None:
            return same
        raise ClosureRefused(taken(), status=409) from None
    return None


def start_closure(actor: Staff, customer: Customer, fund_account: FundAccount, client_token: str,
                  facts: Facts) -> AccountClosure:
    """Submit a closure for review after a passing pre-check; the same client token returns the same closure."""
    existing = _made_with(AccountClosure, client_token, actor.id)
    if existing is not None:
        return existing
    check = precheck(customer, fund_account, facts)
    _refuse_unless_clear(check, "提交")
    closure = AccountClosure(
        reference=_new_reference("XH", AccountClosure), client_token=client_token, customer_id=customer.id,
        fund_account_id=fund_account.id, open_fund_account_id=fund_account.id, branch_id=fund_account.branch_id,
        status=ClosureStatus.SUBMITTED, precheck=_snapshot(check), created_by_id=actor.id, submitted_at=utcnow())

    def taken() -> str:
        holder = open_closure_of(fund_account.id)
        return f"资金账户 {fund_account.number} 已有销户业务{' ' + holder.reference if holder else ''}，不能重复办理。"

    same = _add_once(closure, taken)
    if same is not None:
        return same
    audit.record("closure.submit", "closure", closure.reference, customer=customer.customer_no,
                 fund_account=fund_account.number)
    return closure


def makers_of(closure: AccountClosure) -> set[int]:
    return {closure.created_by_id}


def review_refusal(closure: AccountClosure, reviewer: Staff) -> str | None:
    """Why `reviewer` may not decide the closure now (maker ≠ checker, branch, role), or None."""
    return checker_refusal(reviewer, maker_ids=makers_of(closure), branch_id=closure.branch_id,
                           business=CLOSURE_BUSINESS)


def refuse_unless_awaiting_review(business: FundAccountBusiness, awaiting, what: str) -> None:
    """Refuse (409) a business no longer awaiting review."""
    if business.status != awaiting:
        raise ClosureRefused(f"该{what}当前为“{business.status_label}”，已不在待复核状态，本次未处理。", status=409)


def _refuse_unless_awaiting_review(business: FundAccountBusiness, awaiting, what: str, refused: str | None) -> None:
    """Decide only a business awaiting review (409 otherwise), and only as a reviewer who may check it (403)."""
    refuse_unless_awaiting_review(business, awaiting, what)
    if refused:
        raise ClosureRefused(refused, status=403)


def decide_closure(closure: AccountClosure, reviewer: Staff, operator: Staff, approve: bool,
                   reason: str | None = None, facts: Facts | None = None) -> ClosureDecision:
    """Record the reviewer's decision on the current submission; approval re-checks and starts the steps.

    The caller locked the row; the decision's unique (closure, submission) makes a second one fail too.
    """
    _refuse_unless_awaiting_review(closure, ClosureStatus.SUBMITTED, "销户业务", review_refusal(closure, reviewer))
    customer = db.session.get(Customer, closure.customer_id)
    fund_account = db.session.get(FundAccount, closure.fund_account_id)
    if approve:
        check = precheck(customer, fund_account, facts or Facts(error="未查询集中交易系统和存管银行"),
                         ignore_closure=closure)
        closure.precheck = _snapshot(check)
        _refuse_unless_clear(check, "复核通过")
    decision = ClosureDecision(closure_id=closure.id, submission_no=closure.submission_no,
                               decision="approve" if approve else "reject", reviewer_id=reviewer.id,
                               operator_id=operator.id, reason=(reason or "").strip()[:500] or None)
    try:
        with db.session.begin_nested():
            db.session.add(decision)
    except IntegrityError:
        raise ClosureRefused("该次提交已由其他复核人作出结论，本次未处理。", status=409) from None
    closure.decided_at = decision.decided_at = utcnow()
    if approve:
        _begin_closing(closure, fund_account, reviewer)
    else:
        move(closure, ClosureStatus.REJECTED, CLOSURE_TRANSITIONS)
    audit.record("closure.decide", "closure", closure.reference, decision=decision.decision,
                 reviewer=reviewer.username, submission=closure.submission_no)
    db.session.flush()
    return decision


def resubmit_closure(closure: AccountClosure, actor: Staff, facts: Facts) -> None:
    """Send a rejected closure to review again, after the pre-check passes once more."""
    if closure.status != ClosureStatus.REJECTED:
        raise ClosureRefused(f"该销户业务当前为“{closure.status_label}”，不能重新提交。", status=409)
    customer = db.session.get(Customer, closure.customer_id)
    check = precheck(customer, db.session.get(FundAccount, closure.fund_account_id), facts, ignore_closure=closure)
    closure.precheck = _snapshot(check)
    _refuse_unless_clear(check, "重新提交")
    move(closure, ClosureStatus.SUBMITTED, CLOSURE_TRANSITIONS)
    closure.submission_no += 1
    closure.submitted_at = utcnow()
    audit.record("closure.resubmit", "closure", closure.reference, submission=closure.submission_no)


def withdraw_closure(closure: AccountClosure, actor: Staff, reason: str) -> None:
    """Withdraw a closure not yet approved; the fund account is free for a new one."""
    if closure.status not in (ClosureStatus.SUBMITTED, ClosureStatus.REJECTED):
        raise ClosureRefused(f"该销户业务当前为“{closure.status_label}”，不能撤回。", status=409)
    move(closure, ClosureStatus.WITHDRAWN, CLOSURE_TRANSITIONS)
    closure.open_fund_account_id = None
    closure.end_reason = reason[:500]
    audit.record("closure.withdraw", "closure", closure.reference)


def _begin_closing(closure: AccountClosure, fund_account: FundAccount, actor: Staff) -> None:
    reason = f"销户业务 {closure.reference} 复核通过，开始销户"
    securities = _securities_of(fund_account.id)
    closure.previous_statuses = {"fund": str(fund_account.status),
                                 "securities": {str(s.id): str(s.status) for s in securities}}
    transition_account(fund_account, AccountStatus.CLOSING, actor, reason)
    for account in securities:
        if AccountStatus.CLOSING in _allowed(account.status):
            transition_account(account, AccountStatus.CLOSING, actor, reason)
    move(closure, ClosureStatus.CLOSING, CLOSURE_TRANSITIONS)
    _enqueue_step(closure, ClosureStep.FUNDS_OUT, fund_account)


def _allowed(status: str):
    from blueprints.accounts.lifecycle import TRANSITIONS

    return TRANSITIONS[AccountStatus(status)]


def _securities_of(fund_account_id: int) -> list[SecuritiesAccount]:
    return list(db.session.scalars(select(SecuritiesAccount).where(
        SecuritiesAccount.fund_account_id == fund_account_id).order_by(SecuritiesAccount.market)))


def _other_live_accounts(closure: AccountClosure) -> int:
    return db.session.scalar(select(func.count()).select_from(FundAccount).where(
        FundAccount.customer_id == closure.customer_id, FundAccount.id != closure.fund_account_id,
        FundAccount.status.in_(LIVE))) or 0


def _enqueue_step(closure: AccountClosure, step: ClosureStep, fund_account: FundAccount) -> ClosureStepRecord:
    customer = db.session.get(Customer, closure.customer_id)
    payload = {"closure_id": closure.id, "step": int(step), "fund_account_no": fund_account.number}
    if step == ClosureStep.SUB_ACCOUNTS:
        payload["unified_account_no"] = customer.unified_account_no
        payload["sub_account_numbers"] = [s.number for s in _securities_of(fund_account.id)
                                          if s.status != AccountStatus.CLOSED]
    elif step == ClosureStep.UNIFIED_ACCOUNT:
        payload["unified_account_no"] = customer.unified_account_no
        # Another live fund account of ours still uses the 一码通: it stays, and China Clearing is not asked.
        payload["kept_for_own_accounts"] = _other_live_accounts(closure) > 0
    message = outbox.enqueue(TOPICS[step], f"closure:{closure.reference}:{int(step)}", payload,
                             application_id=fund_account.application_id, customer_id=closure.customer_id)
    db.session.flush()
    record = ClosureStepRecord(closure_id=closure.id, step=int(step), message_id=message.id)
    db.session.add(record)
    db.session.flush()
    return record


def _step_of(message: OutboxMessage) -> tuple[AccountClosure, ClosureStepRecord]:
    record = db.session.scalar(select(ClosureStepRecord).where(ClosureStepRecord.message_id == message.id))
    closure = db.session.get(AccountClosure, record.closure_id, with_for_update=True)
    return closure, record


def _finish(closure: AccountClosure, fund_account: FundAccount) -> None:
    reason = f"销户业务 {closure.reference} 各步骤均已完成"
    transition_account(fund_account, AccountStatus.CLOSED, None, reason)
    move(closure, ClosureStatus.CLOSED, CLOSURE_TRANSITIONS)
    closure.closed_at = utcnow()
    closure.open_fund_account_id = None
    customer = db.session.get(Customer, closure.customer_id)
    live = db.session.scalar(select(func.count()).select_from(FundAccount).where(
        FundAccount.customer_id == customer.id, FundAccount.status.in_(LIVE))) or 0
    if live == 0 and customer.kind == CustomerKind.CURRENT:
        customer_services.change_kind(customer, CustomerKind.HISTORICAL, None,
                                      f"销户业务 {closure.reference} 完成，已无存续资金账户")
    audit.record("closure.closed", "closure", closure.reference, actor_name="outbox-worker",
                 customer_historical=customer.kind == CustomerKind.HISTORICAL)


def _fail(closure: AccountClosure, record: ClosureStepRecord, reason: str, actor: Staff) -> None:
    """A refused step was cancelled: the closure fails and the accounts go back to where they were."""
    fund_account = db.session.get(FundAccount, closure.fund_account_id)
    why = f"销户业务 {closure.reference} 第{record.step}步“{record.label}”已撤销：{reason}"
    previous = closure.previous_statuses or {}
    if fund_account.status == AccountStatus.CLOSING:
        transition_account(fund_account, AccountStatus(previous.get("fund", AccountStatus.ACTIVE)), actor, why)
    for account in _securities_of(fund_account.id):
        if account.status == AccountStatus.CLOSING:
            before = previous.get("securities", {}).get(str(account.id), AccountStatus.ACTIVE)
            transition_account(account, AccountStatus(before), actor, why)
    move(closure, ClosureStatus.FAILED, CLOSURE_TRANSITIONS)
    closure.open_fund_account_id = None
    closure.end_reason = why[:500]
    audit.record("closure.failed", "closure", closure.reference, actor=actor, step=record.step)


class _StepHandler:
    """What every closure step shares: the order of the steps, refusals and people's actions."""

    step: ClosureStep
    system_name = "depository_bank"

    @property
    def simulated(self) -> bool:
        return bool(getattr(current_app.extensions[self.system_name], "simulated", False))

    def outcome(self, result: dict) -> str:
        return "已完成"

    def apply(self, message: OutboxMessage, result: dict) -> None:
        closure, record = _step_of(message)
        record.outcome = self.outcome(result)[:200]
        fund_account = db.session.get(FundAccount, closure.fund_account_id)
        if closure.status == ClosureStatus.STEP_REFUSED:
            move(closure, ClosureStatus.CLOSING, CLOSURE_TRANSITIONS)
        self.record_effect(closure, fund_account, result)
        if self.step == ClosureStep.UNIFIED_ACCOUNT:
            _finish(closure, fund_account)
        else:
            _enqueue_step(closure, ClosureStep(self.step + 1), fund_account)

    def record_effect(self, closure: AccountClosure, fund_account: FundAccount, result: dict) -> None:
        """What the step changes in our own records, besides its outcome."""

    def on_rejected(self, message: OutboxMessage, reason: str) -> None:
        closure, record = _step_of(message)
        if closure.status == ClosureStatus.CLOSING:
            move(closure, ClosureStatus.STEP_REFUSED, CLOSURE_TRANSITIONS)
        record.outcome = f"被拒绝：{reason}"[:200]
        audit.record("closure.step_refused", "closure", closure.reference, actor_name="outbox-worker",
                     step=record.step, reason=reason[:200])

    def on_resent(self, message: OutboxMessage, changes: dict, actor: Staff) -> None:
        closure, record = _step_of(message)
        if closure.status == ClosureStatus.STEP_REFUSED:
            move(closure, ClosureStatus.CLOSING, CLOSURE_TRANSITIONS)
        record.outcome = None

    def on_cancelled(self, message: OutboxMessage, reason: str, actor: Staff) -> None:
        closure, record = _step_of(message)
        record.outcome = f"已撤销：{reason}"[:200]
        _fail(closure, record, reason, actor)

    def business_link(self, message: OutboxMessage) -> dict | None:
        """The closure this request belongs to, for the exceptions screen."""
        record = db.session.scalar(select(ClosureStepRecord).where(ClosureStepRecord.message_id == message.id))
        if record is None:
            return None
        closure = db.session.get(AccountClosure, record.closure_id)
        return {"label": f"销户业务 {closure.reference} · 第{record.step}步 {record.label}",
                "url": url_for("closure.business", reference=closure.reference), "status": closure.status_label}


@outbox.handler(TOPICS[ClosureStep.FUNDS_OUT])
class FundsOutHandler(_StepHandler):
    """1 资金转出: whatever the bank reports as the balance goes to the bound card; nothing to move, no call."""

    step = ClosureStep.FUNDS_OUT

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        bank = current_app.extensions["depository_bank"]
        # The pre-check asked for exactly zero; interest credited since approval still has to leave.
        balance = Decimal(bank.balance(payload["fund_account_no"])["balance"])
        if balance == 0:
            return {"transferred": "0.00", "not_needed": True, "simulated": bool(bank.simulated)}
        return bank.transfer_out(payload["fund_account_no"], balance, idempotency_key)

    def outcome(self, result: dict) -> str:
        if result.get("not_needed"):
            return "无需转出（资金余额为零）"
        return f"已转出 ¥{Decimal(result['transferred']):,.2f} 至存管银行卡"


@outbox.handler(TOPICS[ClosureStep.UNBIND])
class UnbindHandler(_StepHandler):
    """2 解除第三方存管."""

    step = ClosureStep.UNBIND

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return current_app.extensions["depository_bank"].unbind(payload["fund_account_no"], idempotency_key)

    def outcome(self, result: dict) -> str:
        return "存管银行已解除绑定"

    def record_effect(self, closure, fund_account, result) -> None:
        from blueprints.accounts.models import DepositoryBinding

        binding = db.session.scalar(select(DepositoryBinding).where(
            DepositoryBinding.fund_account_id == fund_account.id))
        if binding is not None:
            binding.message = f"销户业务 {closure.reference} 已解除存管"[:200]


@outbox.handler(TOPICS[ClosureStep.FUND_ACCOUNT])
class FundAccountHandler(_StepHandler):
    """3 注销资金账户: the trading system has no call for it; the step is our own record."""

    step = ClosureStep.FUND_ACCOUNT
    system_name = "trading"

    @property
    def simulated(self) -> bool:
        return False

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        return {"recorded": True, "simulated": False}

    def outcome(self, result: dict) -> str:
        return "资金账户已在本公司注销（内部记录）"


@outbox.handler(TOPICS[ClosureStep.SUB_ACCOUNTS])
class SubAccountsHandler(_StepHandler):
    """4 注销证券账户 at China Clearing."""

    step = ClosureStep.SUB_ACCOUNTS
    system_name = "china_clearing"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        numbers = payload.get("sub_account_numbers") or []
        if not numbers or not payload.get("unified_account_no"):
            return {"closed": [], "not_needed": True, "simulated": False}
        return current_app.extensions["china_clearing"].close_sub_accounts(payload["unified_account_no"], numbers,
                                                                          idempotency_key)

    def outcome(self, result: dict) -> str:
        if result.get("not_needed"):
            return "无证券账户需注销"
        return f"已注销证券账户 {'、'.join(result['closed'])}"

    def record_effect(self, closure, fund_account, result) -> None:
        closed = set(result.get("closed") or [])
        for account in _securities_of(fund_account.id):
            if account.number in closed and account.status != AccountStatus.CLOSED:
                if account.status != AccountStatus.CLOSING:
                    transition_account(account, AccountStatus.CLOSING, None, f"销户业务 {closure.reference}")
                transition_account(account, AccountStatus.CLOSED, None,
                                   f"销户业务 {closure.reference}：中国结算已注销")


@outbox.handler(TOPICS[ClosureStep.UNIFIED_ACCOUNT])
class UnifiedAccountHandler(_StepHandler):
    """5 注销一码通 where no other firm (nor another fund account of ours) still uses it."""

    step = ClosureStep.UNIFIED_ACCOUNT
    system_name = "china_clearing"

    def deliver(self, payload: dict, idempotency_key: str) -> dict:
        if payload.get("kept_for_own_accounts"):
            return {"closed": False, "kept_for_own_accounts": True, "simulated": False}
        if not payload.get("unified_account_no"):
            return {"closed": False, "not_needed": True, "simulated": False}
        return current_app.extensions["china_clearing"].close_unified_account(payload["unified_account_no"],
                                                                             idempotency_key)

    def outcome(self, result: dict) -> str:
        if result.get("kept_for_own_accounts"):
            return "保留（客户在本公司尚有其他资金账户）"
        if result.get("not_needed"):
            return "无一码通账户需注销"
        if result.get("other_firms"):
            return "保留（他方券商仍在使用）"
        return "一码通账户已注销"


for _step, _topic in TOPICS.items():
    exceptions.register_topic(
        _topic, system=SYSTEMS[_step], title=f"销户第{int(_step)}步：{STEP_LABELS[_step]}",
        shown=("fund_account_no",) + (("unified_account_no", "sub_account_numbers")
                                      if _step == ClosureStep.SUB_ACCOUNTS else
                                      ("unified_account_no",) if _step == ClosureStep.UNIFIED_ACCOUNT else ()),
        resend_form=ResendForm,
        resend_hint="销户步骤没有可更正的内容：请先消除对方拒绝的原因（例如客户已转出余额、他方已注销账户），再原样重新发送，销户将从本步继续。",
        cancel_hint="撤销后销户失败：资金账户回到销户前的状态，销户业务终止（已完成的步骤不回退），客户如仍要销户须重新办理。")


@dataclass(frozen=True)
class StepView:
    number: int
    label: str
    state: str        # 待处理 / 未发送 / 已发送 / 处理成功 / 处理失败
    state_key: str    # not_queued / not_sent / sent / succeeded / failed
    outcome: str | None
    message_id: int | None
    simulated: bool


def steps_of(closure: AccountClosure) -> list[StepView]:
    """The five steps in order, each with its own state; steps not yet reached show 待处理."""
    records = {record.step: record for record in closure.steps}
    views = []
    for step in ClosureStep:
        record = records.get(int(step))
        if record is None:
            views.append(StepView(int(step), STEP_LABELS[step], NOT_QUEUED, "not_queued", None, None, False))
            continue
        message = record.message
        result = message.result if isinstance(message.result, dict) else {}
        views.append(StepView(int(step), STEP_LABELS[step], DELIVERY_LABELS[message.delivery_state],
                              str(message.delivery_state), record.outcome, message.id, bool(result.get("simulated"))))
    return views


def refused_step(closure: AccountClosure) -> StepView | None:
    return next((view for view in steps_of(closure) if view.state_key == "failed"), None)


def polling(closure: AccountClosure) -> bool:
    return closure.status == ClosureStatus.CLOSING


def decisions_of(closure: AccountClosure) -> list[ClosureDecision]:
    return list(db.session.scalars(select(ClosureDecision).where(ClosureDecision.closure_id == closure.id)
                                   .order_by(ClosureDecision.id.desc())))


def retention_until(customer: Customer) -> date | None:
    """The first day the records may go: twenty years after closure (证券法 第一百三十七条)."""
    if customer.closed_at is None:
        return None
    closed = to_beijing(customer.closed_at).date()
    try:
        return closed.replace(year=closed.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return closed.replace(year=closed.year + RETENTION_YEARS, day=28)


# -- reactivation (休眠账户激活)


def open_reactivation_of(fund_account_id: int) -> AccountReactivation | None:
    return db.session.scalar(select(AccountReactivation).where(
        AccountReactivation.open_fund_account_id == fund_account_id))


def id_refusal(customer: Customer, today: date | None = None) -> str | None:
    """The customer's ID document on record must be valid today to reactivate (完善资料 first when restricted)."""
    restricted = id_expiry.refusal(customer)
    if restricted:
        return restricted
    document = customer_services.current_id_document(customer.id)
    if document is None:
        return "客户档案中没有身份证件记录，须先办理证件登记（资料变更）后再激活。"
    if document.expired(today or business_today()):
        return (f"客户档案中的身份证件已于 {document.valid_to} 过期，须先持新证件办理证件更新（资料变更），"
                "再办理休眠账户激活。")
    return None


def start_reactivation(actor: Staff, customer: Customer, fund_account: FundAccount,
                       client_token: str) -> AccountReactivation:
    """Submit a reactivation of a dormant fund account for review, the ID document re-checked."""
    existing = _made_with(AccountReactivation, client_token, actor.id)
    if existing is not None:
        return existing
    if customer.kind == CustomerKind.HISTORICAL:
        raise ClosureRefused(historical_message(customer), status=409)
    if fund_account.status != AccountStatus.DORMANT:
        raise ClosureRefused(f"资金账户 {fund_account.number} 当前为“{fund_account.status_label}”，不是休眠账户。",
                             status=409)
    refused = id_refusal(customer)
    if refused:
        raise ClosureRefused(refused)
    reactivation = AccountReactivation(
        reference=_new_reference("JH", AccountReactivation), client_token=client_token, customer_id=customer.id,
        fund_account_id=fund_account.id, open_fund_account_id=fund_account.id, branch_id=fund_account.branch_id,
        status=ReactivationStatus.SUBMITTED, id_document_id=customer_services.current_id_document(customer.id).id,
        created_by_id=actor.id)
    same = _add_once(reactivation, lambda: f"资金账户 {fund_account.number} 已有待复核的激活业务，不能重复办理。")
    if same is not None:
        return same
    audit.record("reactivation.submit", "reactivation", reactivation.reference, customer=customer.customer_no,
                 fund_account=fund_account.number)
    return reactivation


def reactivation_refusal(reactivation: AccountReactivation, reviewer: Staff) -> str | None:
    return checker_refusal(reviewer, maker_ids={reactivation.created_by_id}, branch_id=reactivation.branch_id,
                           business=REACTIVATION_BUSINESS)


def decide_reactivation(reactivation: AccountReactivation, reviewer: Staff, operator: Staff, approve: bool,
                        reason: str | None = None) -> None:
    """Approve (the account is active again, usable from the next trading day) or reject; the caller locked the row."""
    _refuse_unless_awaiting_review(reactivation, ReactivationStatus.SUBMITTED, "激活业务",
                                   reactivation_refusal(reactivation, reviewer))
    customer = db.session.get(Customer, reactivation.customer_id)
    fund_account = db.session.get(FundAccount, reactivation.fund_account_id)
    if approve:
        if customer.kind == CustomerKind.HISTORICAL:
            raise ClosureRefused(historical_message(customer), status=409)
        refused = id_refusal(customer)
        if refused:
            raise ClosureRefused(refused)
        if fund_account.status != AccountStatus.DORMANT:
            raise ClosureRefused(f"资金账户当前为“{fund_account.status_label}”，不是休眠账户，不能激活。", status=409)
        transition_account(fund_account, AccountStatus.ACTIVE, reviewer,
                           f"休眠账户激活 {reactivation.reference} 复核通过（已核验有效身份证件）")
        move(reactivation, ReactivationStatus.APPROVED, REACTIVATION_TRANSITIONS)
    else:
        move(reactivation, ReactivationStatus.REJECTED, REACTIVATION_TRANSITIONS)
    reactivation.open_fund_account_id = None
    reactivation.reviewer_id, reactivation.operator_id = reviewer.id, operator.id
    reactivation.decided_at = utcnow()
    reactivation.reason = (reason or "").strip()[:500] or None
    audit.record("reactivation.decide", "reactivation", reactivation.reference,
                 decision="approve" if approve else "reject", reviewer=reviewer.username)
    db.session.flush()


def withdraw_reactivation(reactivation: AccountReactivation, actor: Staff, reason: str) -> None:
    if reactivation.status != ReactivationStatus.SUBMITTED:
        raise ClosureRefused(f"该激活业务当前为“{reactivation.status_label}”，不能撤回。", status=409)
    move(reactivation, ReactivationStatus.WITHDRAWN, REACTIVATION_TRANSITIONS)
    reactivation.open_fund_account_id = None
    reactivation.reason = reason[:500]
    audit.record("reactivation.withdraw", "reactivation", reactivation.reference)


# -- dormancy (休眠)


@dataclass(frozen=True)
class DormancyRun:
    checked: int
    marked: int
    unavailable: int


def active_fund_account_numbers() -> list[str]:
    return list(db.session.scalars(select(FundAccount.number).where(FundAccount.status == AccountStatus.ACTIVE)
                                   .order_by(FundAccount.id)))


def mark_dormant(facts: dict[str, Facts], today: date | None = None) -> DormancyRun:
    """Move the active fund accounts whose `facts` meet the dormancy rule to dormant, in one query.

    Accounts no longer active (already dormant, closing) are left alone, so a second run changes nothing.
    """
    today = today or business_today()
    accounts = list(db.session.scalars(select(FundAccount).where(
        FundAccount.status == AccountStatus.ACTIVE, FundAccount.number.in_(list(facts))).order_by(FundAccount.id)))
    marked = unavailable = 0
    for account in accounts:
        fact = facts[account.number]
        if fact.error is not None:
            unavailable += 1  # asked again on the next run
            continue
        opened_on = to_beijing(account.opened_at).date()
        last = fact.position.get("last_trade_on")
        if not closure_rules.is_dormant(holdings=fact.position["holdings"], fund_balance=fact.balance,
                                        last_trade_on=last, opened_on=opened_on, today=today):
            continue
        quiet = f"最近交易 {last}" if last else f"开户（{opened_on}）以来从未交易"
        transition_account(account, AccountStatus.DORMANT, None,
                           f"休眠：无证券持仓，资金余额 ¥{fact.balance:,.2f}（不足 ¥100），{quiet}，至 {today} 已满三年")
        marked += 1
    audit.record("accounts.mark_dormant", "fund_account", None, actor_name="mark-dormant", checked=len(accounts),
                 marked=marked, unavailable=unavailable)
    db.session.flush()
    return DormancyRun(len(accounts), marked, unavailable)


# -- the panel on the customer page


def panel_for(customer: Customer, user: Staff) -> dict:
    """What templates/closure/_customer_panel.html shows on the customer page.

    Keys: customer_no, historical (bool), closed_at, retention_until, can_start (bool: a clerk may
    start a closure or a reactivation), method_refusal (str|None), accounts: [{number, status_label,
    closable, dormant, closure (reference, status_label)|None, reactivation (…)|None}], closures and
    reactivations: the customer's businesses newest first [{reference, fund_account_no, status,
    status_label, created_at, url}].
    """
    fund_accounts = fund_accounts_for(user, customer)
    ids = [account.id for account in fund_accounts]
    closures, reactivations = [], []
    if ids:
        closures = list(db.session.scalars(select(AccountClosure).where(AccountClosure.fund_account_id.in_(ids))
                                           .order_by(AccountClosure.id.desc())))
        reactivations = list(db.session.scalars(select(AccountReactivation).where(
            AccountReactivation.fund_account_id.in_(ids)).order_by(AccountReactivation.id.desc())))
    numbers = {account.id: account.number for account in fund_accounts}
    open_closures = {c.open_fund_account_id: c for c in closures if c.open_fund_account_id}
    open_reactivations = {r.open_fund_account_id: r for r in reactivations if r.open_fund_account_id}
    historical = customer.kind == CustomerKind.HISTORICAL
    return {
        "customer_no": customer.customer_no,
        "historical": historical,
        "closed_at": customer.closed_at,
        "retention_until": retention_until(customer),
        "can_start": user.role == Role.CLERK and not historical,
        "method_refusal": method_refusal(customer),
        "accounts": [{
            "number": account.number, "status_label": account.status_label,
            "closable": AccountStatus(account.status) in CLOSABLE and account.id not in open_closures,
            "dormant": account.status == AccountStatus.DORMANT and account.id not in open_reactivations,
            "closure": open_closures.get(account.id), "reactivation": open_reactivations.get(account.id),
        } for account in fund_accounts],
        "closures": [{"reference": c.reference, "fund_account_no": numbers.get(c.fund_account_id),
                      "status": str(c.status), "status_label": c.status_label, "created_at": c.created_at,
                      "url": url_for("closure.business", reference=c.reference)} for c in closures],
        "reactivations": [{"reference": r.reference, "fund_account_no": numbers.get(r.fund_account_id),
                           "status": str(r.status), "status_label": r.status_label, "created_at": r.created_at,
                           "url": url_for("closure.reactivation", reference=r.reference)} for r in reactivations],
    }
