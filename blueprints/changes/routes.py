"""Change businesses at the counter: entry with the 修改对比, same-terminal review, slips, refusals, queries."""
import hashlib
import hmac
import secrets

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user

from blueprints.accounts.links import accounts_named
from blueprints.auth import services as auth_services
from blueprints.changes import rules as change_rules
from blueprints.changes import services as changes
from blueprints.changes.rules import CHANGE_KIND_LABELS, FIELD_LABELS, ChangeKind
from blueprints.changes.services import display_value
from blueprints.changes.workflow import STATUS_LABELS, ChangeStatus
from blueprints.customers import page as customer_page
from blueprints.customers import services
from blueprints.customers.lifecycle import ENDED
from blueprints.id_expiry import services as id_expiry
from blueprints.changes.forms import (KEY_ELEMENTS, ChangeDecisionForm, ChangeQueryForm, KeyChangeForm, LinkConfirmationForm,
                                        OrdinaryChangeForm, SignedSlipForm, WithdrawChangeForm)
from blueprints.changes import jobs as change_jobs
from blueprints.reader import services as reader_services
from core import audit, files, jobs, masking
from core.extensions import db
from core.reference import ID_TYPE_LABELS
from core.render import in_place, page, see_other
from core.roles import Role
from core.security import roles_required, sees_full_id
from core.timeutil import business_today

bp = Blueprint("changes", __name__, url_prefix="/changes")

VIEW_ROLES = (Role.CLERK, Role.REVIEWER, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
MANAGER_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def _customer(customer_no: str):
    customer = services.find_visible(current_user, customer_no)
    if customer is None:
        abort(404)
    return customer


def _change(reference: str, for_update: bool = False):
    change = changes.find(reference, for_update=for_update)
    if change is None:
        abort(404)
    customer = db.session.get(services.Customer, change.customer_id)
    if customer.kind in ENDED:
        abort(404)  # after closure only archivists read the file; a merged record is read through its successor
    if not current_user.sees_all_branches and change.branch_id != current_user.branch_id \
            and customer.branch_id != current_user.branch_id:
        abort(404)
    return change, customer


def _new_token() -> str:
    return secrets.token_urlsafe(24)


# --- ordinary information -------------------------------------------------------------------------

@bp.route("/new/<customer_no>/ordinary", methods=["GET", "POST"])
@roles_required(Role.CLERK)
def ordinary(customer_no: str):
    """Enter an ordinary change (普通资料变更); the post shows the 修改对比 first, then submits."""
    customer = _customer(customer_no)
    if request.method == "GET":
        audit.record("customer.view", "customer", customer.customer_no, purpose="change_entry")
        values = changes.current_values(customer)
        earlier = changes.find(request.args.get("from", ""))
        if earlier is not None and earlier.customer_id == customer.id and earlier.kind == ChangeKind.ORDINARY:
            values.update({k: earlier.after.get(k) for k in change_rules.ORDINARY_FIELDS})
        form = OrdinaryChangeForm(formdata=None, keep_occupation=customer.profile.occupation,
                                  data={**values, "client_token": _new_token(),
                                        "base_version": customer.profile_version,
                                        "systems": ["csdc", "shareholder", "funds"]})
        return _ordinary_page(customer, form, refused=id_expiry.refusal(customer))
    form = OrdinaryChangeForm(keep_occupation=customer.profile.occupation)
    if request.form.get("edit"):
        form.confirmed.data = ""
        return _ordinary_page(customer, form)
    if not form.validate():
        form.confirmed.data = ""
        return _ordinary_page(customer, form, status=422)
    before = changes.current_values(customer)
    after = {**before, **form.to_data()}
    rows = changes.comparison(ChangeKind.ORDINARY, before, after)
    query = changes.query_unified_account(customer) if "csdc" in (form.systems.data or []) else None
    if query is not None and not query.available:
        if customer.unified_account_no:
            # China Clearing is closed now: the request waits in the outbox (未发送) for its service hours.
            query = changes.UnifiedAccountQuery(
                available=True, found=True, unified_account_no=customer.unified_account_no, simulated=query.simulated,
                message=f"{query.message}；变更将在中国结算服务时间内自动报送（当前显示“未发送”）")
        else:
            query.message += "；本系统也没有该客户的一码通记录，本次不向中国结算报送"
    if not rows:
        form.mobile.errors = list(form.mobile.errors) + ["没有任何修改，无需提交"]
        return _ordinary_page(customer, form, status=422)
    if not form.confirming:
        form.confirmed.data = "1"
        return _ordinary_page(customer, form, rows=rows, query=query)
    try:
        change = changes.submit(customer, kind=ChangeKind.ORDINARY, after=after, systems=form.systems.data or [],
                                actor=current_user, client_token=form.client_token.data or _new_token(),
                                base_version=form.base_version_number(), query=query)
    except changes.ChangeRefused as refused:
        form.confirmed.data = ""
        return _ordinary_page(customer, form, status=refused.status, refused=str(refused))
    return see_other(url_for("changes.detail", reference=change.reference))


def _entry(response, status: int):
    """An entry page answering 403/409 is swapped where the form was (htmx), not into the flash area."""
    return in_place(response, "#change-entry") if status in (403, 409) else response


def _ordinary_page(customer, form, status: int = 200, rows=None, query=None, refused=None):
    response = page("changes/ordinary.html", status=status, customer=customer, form=form, rows=rows, query=query,
                    refused=refused, display_value=display_value, pending=changes.open_change(customer.id),
                    system_labels=changes.SYSTEMS, full=False)
    return _entry(response, status)


# --- key information ------------------------------------------------------------------------------

@bp.route("/new/<customer_no>/key", methods=["GET", "POST"])
@roles_required(Role.CLERK)
def key(customer_no: str):
    """Enter a key-information change (关键信息变更), re-verifying identity (第十二条)."""
    customer = _customer(customer_no)
    # China Clearing first, before this request writes anything (see core.db.release_for_external_call).
    query = changes.query_unified_account(customer)
    if request.method == "GET":
        audit.record("customer.view", "customer", customer.customer_no, purpose="change_entry")
        # 完善资料 from the customer page or a reminder arrives with the renewal chosen.
        element = request.args.get("element") if request.args.get("element") in KEY_ELEMENTS else None
        form = KeyChangeForm(formdata=None, data={"client_token": _new_token(), "base_version": customer.profile_version,
                                                  "id_type": customer.id_type, "element": element})
        return _key_page(customer, form, query=query, restriction=id_expiry.refusal(customer))
    form = KeyChangeForm()
    certificate, certificate_error = _posted_certificate(form, customer)

    def again(status: int, **extra):
        form.confirmed.data = "" if status != 200 else form.confirmed.data
        return _key_page(customer, form, status=status, query=query, certificate=certificate, **extra)

    if request.form.get("edit"):
        form.confirmed.data = ""
        return again(200)
    if certificate_error:
        form.certificate.errors = list(form.certificate.errors) + [certificate_error]
    if not form.validate() or certificate_error:
        return again(422)
    draft = changes.prepare_key_change(
        customer, form.element.data, name=form.name.data, id_type=form.id_type.data, id_number=form.id_number.data,
        valid_from=form.valid_from.data, valid_to=None if form.valid_long_term.data else form.valid_to.data,
        today=business_today())
    for error in draft.errors:
        target = getattr(form, error.field, None) if error.field in form._fields else form.id_number
        if form.element.data == "name" and error.field not in form._fields:
            target = form.name
        target.errors = list(target.errors) + [error.message]
    if not draft.errors:
        for conflict in changes.key_conflicts(customer, draft.after):
            form.id_number.errors = list(form.id_number.errors) + [conflict]
            draft.errors.append(conflict)
    if draft.errors:
        return again(422)
    systems = form.systems.data or []
    if draft.kind in changes.THREE_ELEMENT_KINDS:
        # The three elements are China Clearing's: it is asked first, told, and refuses while a link is unconfirmed.
        if not query.available:
            form.systems.errors = list(form.systems.errors) + [
                f"{query.message}。变更姓名或证件号码须先查询一码通关联关系，请在中国结算服务时间内办理"]
            return again(409)
        if query.found and "csdc" not in systems:
            form.systems.errors = list(form.systems.errors) + ["变更姓名或证件号码须同步中国结算一码通"]
            return again(422)
        if query.found and query.blocking:
            form.systems.errors = list(form.systems.errors) + [query.message]
            return again(409)
    if form.element.data in ("name", "id_number") and certificate is None:
        form.certificate.errors = list(form.certificate.errors) + ["请上传公安机关出具的变更证明扫描件"]
        return again(422)
    rows = changes.comparison(draft.kind, changes.current_values(customer), draft.after)
    if not form.confirming:
        form.confirmed.data = "1"
        return _key_page(customer, form, rows=rows, query=query, certificate=certificate)
    verification = changes.verify_identity(draft.after)
    if verification["result"] not in ("match", "not_applicable"):
        field = form.name if form.element.data == "name" else form.id_number
        field.errors = list(field.errors) + [f"公民身份信息核查未通过：{verification['message']}"]
        return again(422)
    try:
        change = changes.submit(customer, kind=draft.kind, after=draft.after, systems=systems, actor=current_user,
                                client_token=form.client_token.data or _new_token(),
                                base_version=form.base_version_number(),
                                query=query if query.available else None, verification=verification,
                                certificate=certificate)
    except changes.ChangeRefused as refused:
        return again(refused.status, refused=str(refused))
    return see_other(url_for("changes.detail", reference=change.reference))


@bp.route("/new/<customer_no>/key/card")
@roles_required(Role.CLERK)
def key_card(customer_no: str):
    """Wait for the new document on this terminal's reader, then fill the key-change form (htmx polls this)."""
    customer = _customer(customer_no)
    query = changes.query_unified_account(customer)
    wait = reader_services.wait_for_card(request)
    if wait.read is None:
        return page("reader/_card_status.html", wait=wait,
                    card_url=url_for("changes.key_card", customer_no=customer.customer_no),
                    pair_next=url_for("changes.key", customer_no=customer.customer_no))
    card = reader_services.identity_values(wait.read)
    element = ("name" if card.get("name") and card["name"] != customer.name
               else "id_number" if card.get("id_number") and card["id_number"] != customer.id_number else "renewal")
    form = KeyChangeForm(formdata=None, data={
        "client_token": _new_token(), "base_version": customer.profile_version, "element": element,
        "name": card.get("name") if element == "name" else None, "id_type": card.get("id_type", customer.id_type),
        "id_number": card.get("id_number") if element == "id_number" else None,
        "valid_from": _card_date(card.get("valid_from")), "valid_to": _card_date(card.get("valid_to")),
        "valid_long_term": bool(card.get("valid_long_term")), "systems": ["csdc", "shareholder", "funds"]})
    response = _key_page(customer, form, query=query, card_read=wait.read, block="entry")
    response.headers["HX-Retarget"] = "#key-change-form"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _card_date(value):
    from datetime import date

    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _certificate_signature(form, customer, sha256: str) -> str:
    message = f"{form.client_token.data}:{customer.id}:{sha256}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest()


def certificate_ref(form, customer, certificate) -> str:
    """What the page carries to find the uploaded certificate again: its digest, signed for this form and customer."""
    return f"{certificate.sha256}.{_certificate_signature(form, customer, certificate.sha256)}"


def _posted_certificate(form, customer):
    """The change certificate of this post: a new upload, or the one this form uploaded before (signed reference)."""
    upload = request.files.get(form.certificate.name)
    if upload and upload.filename:
        try:
            return files.store(upload.read(), changes.CERTIFICATE_TYPES, current_app.config["MAX_SCAN_BYTES"]), None
        except files.FileRejected as error:
            return None, str(error)
    sha256, _, signature = (request.form.get("certificate_ref") or "").partition(".")
    if not sha256 or not hmac.compare_digest(signature, _certificate_signature(form, customer, sha256)):
        return None, None
    try:
        data = files.read(sha256)
    except files.StoredFileMissing:
        return None, None
    mime = files.sniff(data)
    return (files.StoredFile(sha256, len(data), mime), None) if mime in changes.CERTIFICATE_TYPES else (None, None)


def _key_page(customer, form, status: int = 200, rows=None, query=None, refused=None, certificate=None,
              card_read=None, block=None, restriction=None):
    document = services.current_id_document(customer.id)
    response = page("changes/key.html", status=status, block=block, card_read=card_read, customer=customer, form=form,
                    rows=rows, query=query, refused=refused, display_value=display_value, document=document,
                    restriction=restriction,
                    certificate=certificate,
                    certificate_ref=certificate_ref(form, customer, certificate) if certificate else None,
                    pending=changes.open_change(customer.id), id_type_labels=ID_TYPE_LABELS,
                    system_labels=changes.SYSTEMS, full=sees_full_id(current_user))
    return _entry(response, status)


# --- relationship confirmation ----------------------------------------------------------------------

@bp.route("/new/<customer_no>/links", methods=["GET", "POST"])
@roles_required(Role.CLERK)
def links(customer_no: str):
    """Confirm unconfirmed links between the 一码通 and sub-accounts (关联关系确认), a reviewed business."""
    customer = _customer(customer_no)
    query = changes.query_unified_account(customer)
    form = LinkConfirmationForm() if request.method == "POST" else LinkConfirmationForm(
        formdata=None, data={"client_token": _new_token(), "base_version": customer.profile_version})
    form.confirm.choices = [(sub["number"], accounts_named([sub])) for sub in query.blocking]
    if request.method == "GET" or not query.available or not query.blocking:
        return _links_page(customer, form, query, refused=id_expiry.refusal(customer) if request.method == "GET" else None)
    if not form.validate():
        return _links_page(customer, form, query, status=422)
    try:
        change = changes.submit(customer, kind=ChangeKind.LINK_CONFIRMATION, after={"confirm": form.confirm.data},
                                systems=["csdc"], actor=current_user, client_token=form.client_token.data or _new_token(),
                                base_version=form.base_version_number(), query=query)
    except changes.ChangeRefused as refused:
        return _links_page(customer, form, query, status=refused.status, refused=str(refused))
    return see_other(url_for("changes.detail", reference=change.reference))


def _links_page(customer, form, query, status: int = 200, refused=None):
    from blueprints.accounts.markets import MARKETS

    return _entry(page("changes/links.html", status=status, customer=customer, form=form, query=query, refused=refused,
                       markets=MARKETS, pending=changes.open_change(customer.id)), status)


# --- one change -----------------------------------------------------------------------------------

@bp.route("/<reference>")
@roles_required(*VIEW_ROLES)
def detail(reference: str):
    """Show one change: the comparison, its state, the systems' answers and the same-terminal panel."""
    change, customer = _change(reference)
    audit.record("customer_change.view", "customer_change", change.reference)
    return _detail_page(change, customer)


def _detail_page(change, customer, status: int = 200, form=None, refused=None, withdraw_form=None, block=None,
                 slip_form=None, oob: bool = False):
    messages = changes.messages_of([change])[change.id]
    full = sees_full_id(current_user)
    response = page("changes/detail.html", block=block, status=status, change=change, customer=customer,
                rows=changes.comparison(change, change.before, change.after), messages=messages,
                system_label=changes.system_label, history=changes.status_history(change),
                names=changes.staff_names([change]), form=form or ChangeDecisionForm(formdata=None),
                withdraw_form=withdraw_form or WithdrawChangeForm(formdata=None),
                slip_form=slip_form or SignedSlipForm(formdata=None), refused=refused, display_value=display_value, full=full,
                kind_label=changes.kind_label(change), status_label=changes.status_label(change),
                systems=changes.SYSTEMS, can_host=current_user.role == Role.CLERK,
                can_host_review=_may_host_review(change),
                settled=all(m.status == "delivered" for m in messages), oob=oob,
                slip_job=None if change.slip_sha256 else jobs.latest(change_jobs.SLIP, ("customer_change", change.id)),
                describe_job=jobs.describe)
    return in_place(response, f"#change-{block}") if block and status in (403, 409) else response


def _may_host_review(change) -> bool:
    """Only the clerk who entered the change hosts its same-terminal review (经办人本人)."""
    return current_user.role == Role.CLERK and change.created_by_id == current_user.id


@bp.route("/<reference>/progress")
@roles_required(*VIEW_ROLES)
def progress(reference: str):
    """The systems' states, polled while they answer."""
    change, customer = _change(reference)
    return _detail_page(change, customer, block="systems", oob=True)


@bp.route("/<reference>/review", methods=["POST"])
@roles_required(Role.CLERK)
def decide(reference: str):
    """Take the reviewer's decision on the clerk's terminal (同机复核); the session stays the clerk's."""
    change, customer = _change(reference, for_update=True)
    # Before the form is read, so that no password is checked or counted for a session that may not host
    # the review or for a change that no longer waits for one.
    if not _may_host_review(change):
        abort(403, "只有经办该变更的柜员可以在本机发起同机复核")
    if change.status != ChangeStatus.SUBMITTED:
        return _detail_page(change, customer, status=409, block="review",
                            refused=f"该变更当前为“{changes.status_label(change)}”，已不在待复核状态，本次未处理。")
    form = ChangeDecisionForm()
    if not form.validate():
        return _detail_page(change, customer, status=422, form=form, block="review")

    def decide(reviewer):
        refused = changes.refusal_reason(change, reviewer)
        if refused and change.status == ChangeStatus.SUBMITTED:
            raise changes.ChangeRefused(refused, status=403)  # this person may not decide it
        if form.rejecting:
            changes.reject(change, reviewer, current_user, form.reason.data)
        else:
            changes.approve(change, reviewer, current_user)
            _print_slip(change, customer)

    outcome = auth_services.review_on_terminal(form, decide, changes.ChangeRefused, purpose="change_review")
    if outcome.status:
        return _detail_page(change, customer, status=outcome.status, form=form, refused=outcome.refused,
                            block="review")
    flash(f"同机复核完成：资料变更 {change.reference} {'已退回' if form.rejecting else '已复核通过并生效'}"
          f"（复核人：{outcome.reviewer.full_name}）", "success")
    return see_other(url_for("changes.detail", reference=change.reference))


def _print_slip(change, customer) -> None:
    mask = {"id_type": lambda t: ID_TYPE_LABELS.get(t, t), "id_number": masking.mask_id_number,
            "value": lambda f, v: display_value(f, v)}
    change_jobs.queue_slip(change, changes.slip_context(change, customer, mask), current_user)


@bp.route("/<reference>/slip.pdf")
@roles_required(*VIEW_ROLES)
def slip(reference: str):
    """Download the confirmation slip (确认单) printed at approval, for the customer's signature."""
    change, _customer_ = _change(reference)
    if not change.slip_sha256:
        abort(404)
    audit.record("customer_change.slip_download", "customer_change", change.reference)
    return _stored(change.slip_sha256, "application/pdf", f"{change.reference}-确认单.pdf")


@bp.route("/<reference>/slip/retry", methods=["POST"])
@roles_required(Role.CLERK)
def retry_slip(reference: str):
    """Print the slip again after its job failed (the render service was down): the same slip, as of the approval."""
    change, _customer_ = _change(reference, for_update=True)
    job = None if change.slip_sha256 else jobs.latest(change_jobs.SLIP, ("customer_change", change.id))
    if job is None:
        abort(404)
    if jobs.retry(job):
        audit.record("customer_change.slip_retry", "customer_change", change.reference, job=job.id)
    if job.status != jobs.JobStatus.FAILED:  # queued now, or by the first of a double click
        flash("已重新提交打印确认单，生成后即可下载", "success")
    return see_other(url_for("changes.detail", reference=change.reference) + "#change-slip")


@bp.route("/<reference>/signed-slip", methods=["POST"])
@roles_required(Role.CLERK)
def upload_signed_slip(reference: str):
    """Archive the scan of the slip the customer signed."""
    change, customer = _change(reference, for_update=True)
    upload = request.files.get("slip")
    try:
        if not upload or not upload.filename:
            raise changes.ChangeRefused("请选择客户签字的确认单扫描件", field="slip")
        changes.store_signed_slip(change, upload.read(), current_user)
    except (changes.ChangeRefused, files.FileRejected) as error:
        form = SignedSlipForm()
        form.slip.errors = [str(error)]
        return _detail_page(change, customer, status=getattr(error, "status", 422), block="slip", slip_form=form)
    flash("已归档客户签字的确认单", "success")
    return see_other(url_for("changes.detail", reference=change.reference))


@bp.route("/<reference>/signed-slip")
@roles_required(*VIEW_ROLES)
def signed_slip(reference: str):
    change, _customer_ = _change(reference)
    if not change.signed_slip_sha256:
        abort(404)
    audit.record("customer_change.signed_slip_download", "customer_change", change.reference)
    return _stored(change.signed_slip_sha256, change.signed_slip_mime,
                   f"{change.reference}-签字确认单.{files.extension_for(change.signed_slip_mime)}")


@bp.route("/<reference>/certificate")
@roles_required(*VIEW_ROLES)
def certificate(reference: str):
    change, _customer_ = _change(reference)
    if not change.certificate_sha256:
        abort(404)
    audit.record("customer_change.certificate_view", "customer_change", change.reference)
    return _stored(change.certificate_sha256, change.certificate_mime,
                   f"{change.reference}-变更证明.{files.extension_for(change.certificate_mime)}")


def _stored(sha256: str, mime: str, name: str):
    return files.send(sha256, mime, name, as_attachment=mime == "application/pdf")


@bp.route("/<reference>/withdraw", methods=["POST"])
@roles_required(Role.CLERK)
def withdraw(reference: str):
    """Withdraw a returned or refused change; a refused one puts the earlier values back."""
    change, customer = _change(reference, for_update=True)
    form = WithdrawChangeForm()
    if not form.validate():
        return _detail_page(change, customer, status=422, withdraw_form=form, block="actions")
    try:
        changes.withdraw(change, current_user, form.reason.data)
    except changes.ChangeRefused as error:
        form.reason.errors = list(form.reason.errors) + [str(error)]
        return _detail_page(change, customer, status=error.status, withdraw_form=form, block="actions")
    flash(f"资料变更 {change.reference} 已撤销", "success")
    if request.form.get("then") == "redo":
        # Corrected as a new business, reviewed like any other, with what the clerk entered before.
        entry = {"ordinary": "changes.ordinary", "link_confirmation": "changes.links"}.get(change.kind, "changes.key")
        return see_other(url_for(entry, customer_no=customer.customer_no, **({"from": change.reference}
                                                                             if change.kind == "ordinary" else {})))
    return see_other(url_for("changes.detail", reference=change.reference))


# --- managers' query ------------------------------------------------------------------------------

@bp.route("/")
@roles_required(*MANAGER_ROLES)
def index():
    """Query and count changes by type, branch and period."""
    from blueprints.auth.models import Branch
    from sqlalchemy import select

    branches = list(db.session.scalars(select(Branch).order_by(Branch.code))) if current_user.sees_all_branches else []
    form = ChangeQueryForm(request.args, branches=branches)
    valid = form.validate()
    query = changes.ChangeQuery(
        kind=form.kind.data if form.kind.data in CHANGE_KIND_LABELS else None,
        branch_id=int(form.branch.data) if valid and form.branch.data in form.branches else None,
        date_from=form.date_from.data if valid else None, date_to=form.date_to.data if valid else None)
    found = changes.search_changes(current_user, query)
    audit.record("customer_change.query", "customer_change", None, count=len(found))
    customers = services.customers_by_id({c.customer_id for c in found})
    return page("changes/index.html", status=200 if valid else 422, form=form, found=found, customers=customers,
                counts=changes.counts(current_user, query), kind_labels=CHANGE_KIND_LABELS,
                status_labels=STATUS_LABELS, field_labels=FIELD_LABELS)


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    """The customer's change businesses with their comparisons and the systems' answers, in batched queries."""
    history = changes.history(customer)
    return {"changes": history, "change_messages": changes.messages_of(history),
            "change_names": changes.staff_names(history),
            "change_rows": {c.id: changes.comparison(c, c.before, c.after) for c in history},
            "change_kind_labels": CHANGE_KIND_LABELS, "change_status_labels": STATUS_LABELS,
            "system_label": changes.system_label, "display_value": display_value,
            "depository_out_of_sync": changes.depository_out_of_sync(customer.id),
            "open_change": changes.open_change(customer.id)}
