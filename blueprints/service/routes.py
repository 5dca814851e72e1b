"""Service records and complaints: record, list, follow up, assign, extend, close, keep files."""
import secrets

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.dictionaries import services as dictionaries
from blueprints.service import rules, services
from blueprints.service.forms import (AssignHandlerForm, CloseForm, ExtendForm, FileForm, FollowUpForm, ReassignHandlerForm,
                                      RecordForm)
from blueprints.service.rules import ServiceKind, ServiceRefused, ServiceStatus
from core import audit, files
from core.render import page, see_other
from core.security import roles_required

bp = Blueprint("service", __name__, url_prefix="/service")

_LABELS = {"kind_labels": rules.KIND_LABELS, "status_labels": rules.STATUS_LABELS,
           "channel_labels": rules.CHANNEL_LABELS, "urgency_labels": rules.URGENCY_LABELS,
           "feedback_labels": rules.FEEDBACK_LABELS, "event_labels": services.EVENT_LABELS}


def labels() -> dict:
    """The pages' labels; the complaint categories are read from their dictionary (disabled ones still name old records)."""
    return {**_LABELS, "category_labels": dictionaries.labels(rules.CATEGORY_DICTIONARY)}


@bp.route("/")
@roles_required(*services.SERVICE_ROLES)
def index():
    """List my service records (what I own), or the branch's for the branch manager, with filters."""
    manager = current_user.role in services.MANAGER_ROLES
    scope = request.args.get("scope") or ("branch" if manager else "mine")
    kind = request.args.get("kind") or None
    status = request.args.get("status") or None
    if scope not in ("mine", "branch") or (kind and kind not in rules.KIND_LABELS) \
            or (status and status not in ("open", *rules.STATUS_LABELS)):
        abort(400)
    overdue = request.args.get("overdue") == "1"
    if manager:
        services.escalate_overdue(None if current_user.sees_all_branches else current_user.branch_id)
    rows = services.listing(current_user, scope=scope, kind=kind, status=status, overdue=overdue)
    audit.record("service.list", None, None, scope=scope, rows=len(rows))
    customers = customer_services.customers_by_id(r.customer_id for r in rows)
    return page("service/index.html", block="rows", rows=rows, customers=customers, scope=scope, kind=kind,
                status=status, overdue=overdue, manager=manager, today=services.today(),
                names=services.staff_names(r.owner_id for r in rows), overdue_of=services.overdue_reasons,
                limit=services.LIST_LIMIT, **labels())


def _staff_choices(branch_id: int, blank: str) -> list[tuple[int, str]]:
    return [(0, blank)] + [(s.id, f"{s.full_name}（{s.role_label}）") for s in services.branch_staff(branch_id)]


def _record_form_page(form, customer, status=200, refused=None):
    return page("service/new.html", status=status, form=form, customer=customer, refused=refused,
                manager=current_user.role in services.MANAGER_ROLES, today=services.today(),
                settings=services.deadlines(), **labels())


@bp.route("/new/<customer_no>", methods=["GET", "POST"])
@roles_required(*services.SERVICE_ROLES)
def new(customer_no: str):
    """Record a consultation, complaint, suggestion, visit or call of a customer."""
    customer = customer_services.find_visible(current_user, customer_no)
    if customer is None:
        abort(404)
    form = RecordForm()
    form.complained_staff.choices = _staff_choices(customer.branch_id, "无")
    form.handler.choices = _staff_choices(customer.branch_id, "稍后指定")
    if request.method == "GET":
        form.client_token.data = secrets.token_urlsafe(24)
        if request.args.get("kind") in rules.KIND_LABELS:
            form.kind.data = request.args["kind"]
        form.received_on.data = services.today()
        return _record_form_page(form, customer)
    if not form.validate_on_submit():
        return _record_form_page(form, customer, status=422)
    complaint = None
    if form.is_complaint:
        complaint = {"channel": form.channel.data, "case_no": form.case_no.data, "category": form.category.data,
                     "urgency": form.urgency.data, "received_on": form.received_on.data,
                     "complained_staff": form.complained_staff.data or None,
                     "handler": (form.handler.data or None) if current_user.role in services.MANAGER_ROLES else None}
    try:
        record = services.record_contact(current_user, customer, kind=ServiceKind(form.kind.data),
                                         subject=form.subject.data.strip(), content=form.content.data.strip(),
                                         follow_up_on=form.follow_up_on.data, outcome=form.outcome.data or "",
                                         client_token=form.client_token.data, complaint=complaint)
    except ServiceRefused as error:
        return _refused(form, error, lambda: _record_form_page(form, customer, status=error.status,
                                                               refused=None if error.field else str(error)))
    flash(f"{rules.KIND_LABELS[record.kind]}记录 {record.reference} 已登记。", "success")
    return see_other(url_for("service.detail", reference=record.reference))


def _refused(form, error: ServiceRefused, render):
    """Put a refusal next to its field when it names one; render the page."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(error)]
    return render()


def _record_or_404(reference: str):
    record = services.find(current_user, reference)
    if record is None:
        abort(404)
    return record


def _detail_page(record, status=200, refused=None, **forms):
    customer = customer_services.customers_by_id([record.customer_id])[record.customer_id]
    complaint = record.complaint
    assign_form = forms.get("assign_form") or AssignHandlerForm()
    reassign_form = forms.get("reassign_form") or ReassignHandlerForm()
    if complaint is not None:
        assign_form.handler.choices = [(s.id, f"{s.full_name}（{s.role_label}）")
                                       for s in services.branch_staff(record.branch_id)
                                       if s.id != complaint.complained_staff_id]
        reassign_form.handler.choices = [choice for choice in assign_form.handler.choices if choice[0] != complaint.handler_id]
    events = services.events_of(record)
    extensions = services.extensions_of(record)
    kept = services.files_of(record)
    ids = [record.owner_id, record.created_by_id, record.closed_by_id] + [e.actor_id for e in events] \
        + [x.by_id for x in extensions] + [f.uploaded_by_id for f in kept]
    if complaint is not None:
        ids += [complaint.handler_id, complaint.complained_staff_id]
    is_owner = record.owner_id == current_user.id
    manager = current_user.role in services.MANAGER_ROLES
    open_ = record.status != ServiceStatus.CLOSED
    return page("service/detail.html", status=status, record=record, complaint=complaint, customer=customer,
                customer_visible=services.sees_customer(current_user, customer),
                events=events, extensions=extensions, kept=kept, names=services.staff_names(ids),
                overdue=services.overdue_reasons(record), settings=services.deadlines(), refused=refused,
                can_assign=complaint is not None and manager and complaint.handler_id is None and open_,
                can_reassign=complaint is not None and manager and complaint.handler_id is not None and open_,
                reassign_form=reassign_form,
                can_follow_up=is_owner and open_, can_close=is_owner and open_,
                can_extend=complaint is not None and open_ and (manager or complaint.handler_id == current_user.id),
                can_attach=complaint is not None and (manager or is_owner or record.created_by_id == current_user.id),
                assign_form=assign_form, follow_up_form=forms.get("follow_up_form") or FollowUpForm(),
                extend_form=forms.get("extend_form") or ExtendForm(), close_form=forms.get("close_form") or CloseForm(),
                file_form=forms.get("file_form") or FileForm(), today=services.today(), **labels())


@bp.route("/<reference>")
@roles_required(*services.SERVICE_ROLES)
def detail(reference: str):
    """Show one service record: the contact, its owner and follow-ups, and for a complaint its deadlines."""
    record = _record_or_404(reference)
    if record.complaint is not None and current_user.role in services.MANAGER_ROLES:
        services.escalate_overdue(record.branch_id)
    audit.record("service.view", "service_record", record.reference)
    return _detail_page(record)


def _act(reference: str, form_name: str, form, operation, done: str):
    """Load → validate → call one operation → redirect, or the page again with the message in place."""
    record = _record_or_404(reference)
    if not form.validate_on_submit():
        return _detail_page(record, status=422, **{form_name: form})
    try:
        operation(record)
    except ServiceRefused as error:
        return _refused(form, error, lambda: _detail_page(record, status=error.status,
                                                          refused=None if error.field else str(error),
                                                          **{form_name: form}))
    flash(done, "success")
    return see_other(url_for("service.detail", reference=reference))


@bp.route("/<reference>/assign", methods=["POST"])
@roles_required(*services.MANAGER_ROLES)
def assign(reference: str):
    """Give a complaint its first handler (never the staff member complained about)."""
    form = AssignHandlerForm()
    return _act(reference, "assign_form", form, lambda r: services.assign_handler(r, form.handler.data, current_user),
                "已指定首办处理人。")


@bp.route("/<reference>/reassign", methods=["POST"])
@roles_required(*services.MANAGER_ROLES)
def reassign(reference: str):
    """Move a complaint to another handler when its first handler can no longer carry it, with the reason."""
    form = ReassignHandlerForm()
    return _act(reference, "reassign_form", form,
                lambda r: services.reassign_handler(r, form.handler.data, current_user, form.reason.data or ""),
                "已改派处理人。")


@bp.route("/<reference>/follow-up", methods=["POST"])
@roles_required(*services.SERVICE_ROLES)
def follow_up(reference: str):
    """Note a follow-up and the next follow-up date."""
    form = FollowUpForm()
    return _act(reference, "follow_up_form", form,
                lambda r: services.follow_up(r, current_user, form.note.data, form.next_date.data), "跟进已记录。")


@bp.route("/<reference>/extend", methods=["POST"])
@roles_required(*services.SERVICE_ROLES)
def extend(reference: str):
    """Extend a complaint's resolution deadline, with a reason."""
    form = ExtendForm()
    return _act(reference, "extend_form", form, lambda r: services.extend(r, current_user, form.reason.data),
                "办结期限已延长。")


@bp.route("/<reference>/close", methods=["POST"])
@roles_required(*services.SERVICE_ROLES)
def close(reference: str):
    """Close the record with its outcome and, for a complaint, the customer's feedback."""
    form = CloseForm()
    return _act(reference, "close_form", form,
                lambda r: services.close(r, current_user, outcome=form.outcome.data, feedback=form.feedback.data,
                                         feedback_text=form.feedback_text.data or ""), "已办结。")


@bp.route("/<reference>/files", methods=["POST"])
@roles_required(*services.SERVICE_ROLES)
def upload(reference: str):
    """Keep a file with a complaint."""
    form = FileForm()
    upload_ = request.files.get("file")

    def attach(record):
        if upload_ is None or not upload_.filename:
            raise ServiceRefused("请选择要上传的文件", field="file")
        services.attach_file(record, current_user, upload_.read(), upload_.filename)

    return _act(reference, "file_form", form, attach, "材料已保存。")


@bp.route("/<reference>/files/<int:file_id>")
@roles_required(*services.SERVICE_ROLES)
def download(reference: str, file_id: int):
    """Send one complaint file, the read audited."""
    record = _record_or_404(reference)
    kept = services.file_of(record, file_id)
    if kept is None:
        abort(404)
    audit.record("complaint.file_read", "service_record", record.reference, file=kept.id)
    return files.send(kept.sha256, kept.mime, kept.filename, as_attachment=True)


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    """The customer's service records this user may see, newest first."""
    if user.role not in services.SERVICE_ROLES:
        return {"service_records": None}
    records = services.of_customer(user, customer)
    return {"service_records": records, "service_names": services.staff_names(r.owner_id for r in records),
            "service_overdue": services.overdue_reasons, "service_labels": labels()}
