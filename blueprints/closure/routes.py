"""Closure (销户) and reactivation (休眠账户激活) screens: pre-check, start, same-terminal review, progress."""
import secrets
from functools import partial

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from werkzeug.routing import BaseConverter

from blueprints.auth import services as auth_services
from blueprints.closure import services
from blueprints.closure.forms import (BusinessReviewForm, ResubmitForm, StartClosureForm, StartReactivationForm,
                                      WithdrawForm)
from blueprints.closure.models import AccountClosure, AccountReactivation, ClosureStatus, ReactivationStatus
from blueprints.customers import page as customer_page
from blueprints.customers.models import Customer, CustomerKind
from core import audit
from core.extensions import db
from core.db import release_for_external_call
from core.render import in_place, page, see_other
from core.roles import Role
from core.security import roles_required

bp = Blueprint("closure", __name__, url_prefix="/closure")


class ClosureReference(BaseConverter):
    """A closure's reference (XH + date + six digits), told apart from a customer number in the same place."""

    regex = r"XH\d{14}"
    weight = 50


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["closure_ref"] = ClosureReference


def _customer(customer_no: str) -> Customer:
    customer, historical = services.find_customer(current_user, customer_no)
    if customer is None:
        abort(404)
    if historical:
        abort(409, services.historical_message(customer))
    return customer


def _closure(reference: str, for_update: bool = False):
    closure = services.find_closure(current_user, reference, for_update=for_update)
    if closure is None:
        abort(404)
    return closure


def _reactivation(reference: str, for_update: bool = False):
    reactivation = services.find_reactivation(current_user, reference, for_update=for_update)
    if reactivation is None:
        abort(404)
    return reactivation


def _refuse_if_closed(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer.kind == CustomerKind.HISTORICAL:
        abort(409, services.historical_message(customer))
    return customer


def _ask_systems(numbers) -> dict:
    """Ask the trading system and the bank now, holding no database transaction while they answer."""
    release_for_external_call(db.session)
    return services.live_facts(numbers)


def _in_place(response, selector: str, status: int):
    return in_place(response, selector) if status in (403, 409) else response


# -- the customer's pre-check


@bp.route("/<customer_no>")
@roles_required(*services.VIEW_ROLES)
def customer(customer_no: str):
    """Show every closure condition of each fund account, checked now, and the start forms."""
    customer = _customer(customer_no)
    response = _customer_page(customer)
    audit.record("closure.precheck", "customer", customer.customer_no)
    return response


def _customer_page(customer, status: int = 200, number: str | None = None, error: str | None = None,
                   form=None, reactivation_form=None):
    numbers = [account.number for account in services.fund_accounts_for(current_user, customer)
               if account.status in services.CLOSABLE]
    facts = _ask_systems(numbers)
    accounts = services.fund_accounts_for(current_user, customer)
    checks = {account.number: services.precheck(customer, account, facts[account.number]) for account in accounts
              if account.number in facts}
    context = dict(customer=customer, accounts=accounts, checks=checks, panel=services.panel_for(customer, current_user),
                   id_refusal=services.id_refusal(customer), error_for=number, error=error,
                   failed_form=form, failed_reactivation_form=reactivation_form, new_token=lambda: secrets.token_urlsafe(24),
                   start_form=StartClosureForm, reactivation_form_class=StartReactivationForm,
                   method_refusal=services.method_refusal(customer))
    if request.htmx and number and request.method == "POST":
        account = next((a for a in accounts if a.number == number), None)
        return page("closure/_account.html", status=status, account=account, **context)
    return page("closure/customer.html", status=status, **context)


@bp.route("/<customer_no>/start", methods=["POST"])
@roles_required(Role.CLERK)
def start(customer_no: str):
    """Submit the closure of one fund account after the pre-check passes again (checked here, not trusted)."""
    customer = _customer(customer_no)
    form = StartClosureForm()
    number = form.fund_account.data
    fund_account = services.fund_account_of(current_user, customer, number or "")
    if fund_account is None:
        abort(404)
    if not form.validate_on_submit():
        return _customer_page(customer, status=422, number=number, form=form)
    facts = _ask_systems([fund_account.number])[fund_account.number]
    try:
        closure = services.start_closure(current_user, customer, fund_account, form.client_token.data, facts)
    except services.ClosureRefused as refused:
        return _customer_page(customer, status=refused.status, number=number, error=str(refused), form=form)
    flash(f"销户业务 {closure.reference} 已提交，请复核岗在本机复核。", "success")
    return see_other(url_for("closure.business", reference=closure.reference))


@bp.route("/<customer_no>/reactivate", methods=["POST"])
@roles_required(Role.CLERK)
def reactivate(customer_no: str):
    """Submit the reactivation of a dormant fund account, the customer's ID document checked."""
    customer = _customer(customer_no)
    form = StartReactivationForm(prefix="reactivate")
    number = form.fund_account.data
    fund_account = services.fund_account_of(current_user, customer, number or "")
    if fund_account is None:
        abort(404)
    if not form.validate_on_submit():
        return _customer_page(customer, status=422, number=number, reactivation_form=form)
    try:
        reactivation = services.start_reactivation(current_user, customer, fund_account, form.client_token.data)
    except services.ClosureRefused as refused:
        form.id_checked.errors.append(str(refused))
        return _customer_page(customer, status=refused.status, number=number, reactivation_form=form)
    flash(f"休眠账户激活业务 {reactivation.reference} 已提交，请复核岗在本机复核。", "success")
    return see_other(url_for("closure.reactivation", reference=reactivation.reference))


# -- the closure business


@bp.route("/<closure_ref:reference>")
@roles_required(*services.VIEW_ROLES)
def business(reference: str):
    """Show the closure: its status, the conditions as last checked, the steps, and the review panel."""
    closure = _closure(reference)
    audit.record("closure.view", "closure", closure.reference)
    return _business_page(closure)


def _business_page(closure, status: int = 200, block: str | None = None, form=None,
                   refusal: services.ClosureRefused | None = None, withdraw_form=None):
    customer = db.session.get(Customer, closure.customer_id)
    response = page(
        "closure/business.html", block=block, status=status, closure=closure, customer=customer, can_host=may_host(closure),
        fund_account=closure.fund_account, steps=services.steps_of(closure), polling=services.polling(closure),
        refused_step=services.refused_step(closure), decisions=services.decisions_of(closure),
        form=form or BusinessReviewForm(approve_label="复核通过，执行销户"), refused=str(refusal) if refusal else None,
        failed_conditions=refusal.conditions if refusal else [],
        withdraw_form=withdraw_form or WithdrawForm(prefix="withdraw"), resubmit_form=ResubmitForm(prefix="resubmit"),
        retention_until=services.retention_until(customer),
        historical=customer.kind == CustomerKind.HISTORICAL, statuses=ClosureStatus)
    return _in_place(response, "#review-panel", status) if block == "review_panel" else response


@bp.route("/<closure_ref:reference>/steps")
@roles_required(*services.VIEW_ROLES)
def steps(reference: str):
    """The status and steps block alone, which the page polls while the closure runs."""
    closure = _closure(reference)
    if not request.htmx:
        return see_other(url_for("closure.business", reference=closure.reference))
    response = _business_page(closure, block="progress")
    if not services.polling(closure):
        # Done or stopped: reload the whole page, whose customer and account facts changed with it.
        response.headers["HX-Refresh"] = "true"
    return response


@bp.route("/<closure_ref:reference>/review", methods=["POST"])
@roles_required(Role.CLERK)
def review(reference: str):
    """Take the decision with a reviewer's own credentials on this terminal; the session stays the clerk's."""
    closure = _closure(reference)
    _refuse_if_closed(closure.customer_id)
    refused = _refuse_unless_host(closure, ClosureStatus.SUBMITTED, services.CLOSURE_BUSINESS)
    if refused:
        return refused
    form = BusinessReviewForm(approve_label="复核通过，执行销户")
    if not form.validate_on_submit():
        return _business_page(closure, status=422, block="review_panel", form=form)
    # Approval checks the conditions again: ask first, then lock the closure for the decision.
    facts = None if form.rejecting else _ask_systems([closure.fund_account.number])[closure.fund_account.number]
    closure = _closure(reference, for_update=True)
    return _decide_on_terminal(closure, form, partial(services.decide_closure, facts=facts), "closure_review",
                               approved="已复核通过，开始销户")


def may_host(business) -> bool:
    """Only the clerk who submitted a closure or a reactivation hosts its same-terminal review (经办人本人)."""
    return current_user.role == Role.CLERK and business.created_by_id == current_user.id


def _refuse_unless_host(business, awaiting, what: str):
    """Before any credential is read: 403 unless this session may host the review, the business again with
    409 once it no longer awaits review (no password checked, nothing counted); None when it may go on."""
    if not may_host(business):
        abort(403, "只有经办该业务的柜员可以在本机发起同机复核")
    try:
        services.refuse_unless_awaiting_review(business, awaiting, what)
    except services.ClosureRefused as refusal:
        show, _endpoint = _SHOWN[type(business)]
        return show(business, status=refusal.status, block="review_panel", refusal=refusal)
    return None


def _decide_on_terminal(business, form, decide, purpose: str, approved: str):
    """Decide a closure or a reactivation with the reviewer's credentials in `form`, then show the business."""
    operator = current_user._get_current_object()
    outcome = auth_services.review_on_terminal(
        form, lambda reviewer: decide(business, reviewer, operator, approve=not form.rejecting,
                                      reason=form.reason.data),
        services.ClosureRefused, purpose=purpose)
    show, endpoint = _SHOWN[type(business)]
    if outcome.status:
        return show(business, status=outcome.status, block="review_panel", form=form, refusal=outcome.refusal)
    verb = "已退回柜员" if form.rejecting else approved
    flash(f"同机复核完成：{business.reference} {verb}（复核人：{outcome.reviewer.full_name}）", "success")
    return see_other(url_for(endpoint, reference=business.reference))


@bp.route("/<closure_ref:reference>/resubmit", methods=["POST"])
@roles_required(Role.CLERK)
def resubmit(reference: str):
    """Send a rejected closure to review again, after the pre-check passes once more."""
    closure = _closure(reference)
    _refuse_if_closed(closure.customer_id)
    if not ResubmitForm(prefix="resubmit").validate_on_submit():
        abort(400)
    facts = _ask_systems([closure.fund_account.number])[closure.fund_account.number]
    closure = _closure(reference, for_update=True)
    try:
        services.resubmit_closure(closure, current_user, facts)
    except services.ClosureRefused as error:
        return _business_page(closure, status=error.status, block="actions", refusal=error)
    flash(f"{closure.reference} 已重新提交复核。", "success")
    return see_other(url_for("closure.business", reference=closure.reference))


@bp.route("/<closure_ref:reference>/withdraw", methods=["POST"])
@roles_required(Role.CLERK)
def withdraw(reference: str):
    """Withdraw a closure that is not yet approved, with the reason."""
    return _withdraw(_closure(reference, for_update=True), services.withdraw_closure)


def _withdraw(business, withdraw):
    """Withdraw a closure or a reactivation with the reason typed, then show the business."""
    _refuse_if_closed(business.customer_id)
    show, endpoint = _SHOWN[type(business)]
    form = WithdrawForm(prefix="withdraw")
    if not form.validate_on_submit():
        return show(business, status=422, block="actions", withdraw_form=form)
    try:
        withdraw(business, current_user, form.reason.data.strip())
    except services.ClosureRefused as error:
        return show(business, status=error.status, block="actions", refusal=error)
    flash(f"{business.reference} 已撤回。", "success")
    return see_other(url_for(endpoint, reference=business.reference))


# -- reactivation


@bp.route("/reactivation/<reference>")
@roles_required(*services.VIEW_ROLES)
def reactivation(reference: str):
    """Show the reactivation: the account, the ID check, and the review panel."""
    reactivation = _reactivation(reference)
    audit.record("reactivation.view", "reactivation", reactivation.reference)
    return _reactivation_page(reactivation)


def _reactivation_page(reactivation, status: int = 200, block: str | None = None, form=None,
                       refusal: services.ClosureRefused | None = None, withdraw_form=None):
    customer = db.session.get(Customer, reactivation.customer_id)
    response = page(
        "closure/reactivation.html", block=block, status=status, reactivation=reactivation, customer=customer,
        can_host=may_host(reactivation),
        fund_account=reactivation.fund_account, form=form or BusinessReviewForm(approve_label="复核通过，激活账户"),
        refused=str(refusal) if refusal else None, withdraw_form=withdraw_form or WithdrawForm(prefix="withdraw"),
        statuses=ReactivationStatus, id_document=services.customer_services.current_id_document(customer.id),
        id_refusal=services.id_refusal(customer))
    return _in_place(response, "#review-panel", status) if block == "review_panel" else response


@bp.route("/reactivation/<reference>/review", methods=["POST"])
@roles_required(Role.CLERK)
def reactivation_review(reference: str):
    """Decide the reactivation with a reviewer's own credentials on this terminal."""
    reactivation = _reactivation(reference, for_update=True)
    _refuse_if_closed(reactivation.customer_id)
    refused = _refuse_unless_host(reactivation, ReactivationStatus.SUBMITTED, services.REACTIVATION_BUSINESS)
    if refused:
        return refused
    form = BusinessReviewForm(approve_label="复核通过，激活账户")
    if not form.validate_on_submit():
        return _reactivation_page(reactivation, status=422, block="review_panel", form=form)
    return _decide_on_terminal(reactivation, form, services.decide_reactivation, "reactivation_review",
                               approved="已复核通过，账户已激活，下一交易日起可正常交易")


@bp.route("/reactivation/<reference>/withdraw", methods=["POST"])
@roles_required(Role.CLERK)
def reactivation_withdraw(reference: str):
    """Withdraw a reactivation still waiting for review, with the reason."""
    return _withdraw(_reactivation(reference, for_update=True), services.withdraw_reactivation)


# Where a closure and a reactivation are shown: the page function, and the endpoint to go back to.
_SHOWN = {AccountClosure: (_business_page, "closure.business"),
          AccountReactivation: (_reactivation_page, "closure.reactivation")}


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return {"closure_panel": services.panel_for(customer, user)}
