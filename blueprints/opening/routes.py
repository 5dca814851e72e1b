"""The on-site opening wizard: one page whose step panels htmx swaps in."""
import base64
import binascii
import secrets
from datetime import date, datetime, timedelta, timezone

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from blueprints.accounts import services as account_services
from blueprints.opening import choices, presenters, scoring, services, workflow
from blueprints.opening import witness as witness_rules
from blueprints.opening.forms import (
    AgentForm,
    AgreementsForm,
    ChannelForm,
    ContactForm,
    DisclosureForm,
    IdentityForm,
    WitnessForm,
)
from blueprints.opening.identity_service import ANSWER_LABELS
from blueprints.opening.rules import ID_TYPE_LABELS
from blueprints.reader import services as reader_services
from blueprints.reader.models import CardRead
from blueprints.review import services as review_services
from core import audit, files
from core.extensions import db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required
from core.timeutil import business_today, utcnow

bp = Blueprint("opening", __name__, url_prefix="/opening")

# How long the 读卡 button waits for a card before it says so.
CARD_WAIT = timedelta(seconds=60)

IMAGE_TYPES = {"image/jpeg", "image/png"}

FORM_STEPS = {
    "witness": WitnessForm,
    "identity": IdentityForm,
    "contact": ContactForm,
    "agent": AgentForm,
    "disclosure": DisclosureForm,
    "agreements": AgreementsForm,
}


def _load(reference: str, for_update: bool = False):
    application = services.find_visible(current_user, reference, for_update=for_update)
    if application is None:
        abort(404)
    return application


def _load_editable(reference: str):
    application = _load(reference, for_update=True)
    if not services.can_edit(current_user, application):
        abort(403, "该申请不在可编辑状态，或由其他柜员录入。")
    return application


def _step_url(application, key: str) -> str:
    return url_for("opening.step", reference=application.reference, key=key)


@bp.route("/")
@roles_required(*services.OPENING_ROLES)
def index():
    """List the clerk's drafts and returned applications (我的待办)."""
    return page("opening/index.html", drafts=services.my_open_applications(current_user))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*services.OPENING_ROLES)
def new():
    """Start an application with its channel and customer type."""
    form = ChannelForm()
    if request.method == "GET":
        form.channel.data = "witness" if current_user.role == Role.WITNESS else "onsite"
        form.customer_type.data = "individual"
        form.client_token.data = secrets.token_urlsafe(24)
        return _render_step(None, "channel", form)
    if not form.validate_on_submit() or not form.client_token.data:
        if not form.client_token.data:
            form.client_token.data = secrets.token_urlsafe(24)
        return _render_step(None, "channel", form, status=422)
    application = services.start_application(current_user, form.channel.data, form.customer_type.data,
                                             form.client_token.data[:64])
    return _advance(application, "channel")


@bp.route("/<reference>")
@roles_required(*services.OPENING_ROLES)
def resume(reference: str):
    """Open an application where the clerk stopped."""
    application = _load(reference)
    if not services.can_edit(current_user, application):
        return see_other(url_for("opening.detail", reference=reference))
    rejection = _rejection(application)
    return see_other(_step_url(application, rejection.return_step if rejection else services.resume_step(application)))


@bp.route("/<reference>/detail")
@roles_required(*services.OPENING_ROLES, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
def detail(reference: str):
    """Show an application read-only, with its status history."""
    application = _load(reference)
    audit.record("application.view", "application", application.reference, step="detail")
    return page("opening/detail.html", application=application, **presenters.summary_context(application),
                history=services.status_history(application),
                pending_requests=account_services.pending_requests(application),
                request_labels=account_services.SYSTEM_LABELS,
                fund_account=account_services.fund_account_of(application),
                decisions=review_services.decisions(application))


@bp.route("/<reference>/step/<key>", methods=["GET", "POST"])
@roles_required(*services.OPENING_ROLES)
def step(reference: str, key: str):
    """Show or save one wizard step."""
    if key not in workflow.STEP_KEYS:
        abort(404)
    application = _load(reference, for_update=request.method == "POST")
    if request.method == "POST" and key == "summary" and services.is_in_review(application):
        # A second click on "submit" (or a retry after a lost response) does nothing more.
        return see_other(url_for("opening.submitted", reference=reference))
    if request.method == "POST" and not services.can_edit(current_user, application):
        abort(403, "该申请不在可编辑状态，或由其他柜员录入。")
    if not services.can_edit(current_user, application):
        return see_other(url_for("opening.detail", reference=reference))
    if not workflow.reachable(key, application.completed_steps, application.channel):
        return see_other(_step_url(application, services.resume_step(application)))
    if request.method == "GET":
        audit.record("application.view", "application", application.reference, step=key)
        return _render_step(application, key)
    handler = _SAVE_HANDLERS[key]
    return handler(application)


def _save_channel(application):
    form = ChannelForm()
    if not form.validate_on_submit():
        return _render_step(application, "channel", form, status=422)
    services.save_step(application, "channel", {"channel": form.channel.data,
                                                 "customer_type": form.customer_type.data}, current_user)
    return _advance(application, "channel")


def _save_form_step(key: str):
    def handler(application):
        form = _bound_form(application, key)
        if not form.validate_on_submit():
            return _render_step(application, key, form, status=422)
        services.save_step(application, key, form.to_data() if hasattr(form, "to_data") else _disclosure_data(form), current_user)
        return _advance(application, key)
    return handler


def _save_identity(application):
    """Save the identity step, recording which values came from the card reader unchanged."""
    form = _bound_form(application, "identity")
    read = _card_read_from_form(application)
    if not form.validate_on_submit():
        return _render_step(application, "identity", form, status=422, card_read=read,
                            card_fields=sorted(reader_services.identity_values(read)) if read else [])
    data = form.to_data()
    if read is not None:
        card = reader_services.identity_values(read)
        submitted = dict(data, valid_long_term=data.get("valid_to") is None)
        data["card_fields"] = sorted(k for k, v in card.items() if submitted.get(k) == v)
        data["card_read_id"] = read.id
        read.used_by_application_id = application.id
    services.save_step(application, "identity", data, current_user)
    return _advance(application, "identity")


def _save_witness(application):
    """Save who met the customer and who witnessed (第十七条), with the photo and the signature."""
    form = _bound_form(application, "witness")
    previous = application.step_data("witness") or {}
    if not form.validate_on_submit():
        return _render_step(application, "witness", form, status=422)
    staff = {person.id: person for person in services.witness_candidates(current_user)}
    present = [services.witness_facts(staff[i]) for i in form.present.data if i in staff]
    witness = services.witness_facts(staff[form.witness_id.data]) if form.witness_id.data in staff else None
    remote = form.mode.data == "remote"
    errors = witness_rules.check_witnessing(present, witness, remote, form.video_reference.data, business_today())
    photo_sha = previous.get("photo_sha256")
    upload = form.photo.data
    if upload is not None and getattr(upload, "filename", ""):
        if not form.photo_consent.data:
            errors["photo_consent"] = "采集人脸影像前须取得客户的单独同意"
        else:
            try:
                photo_sha = files.store(upload.read(), allowed=IMAGE_TYPES,
                                        max_bytes=current_app.config["MAX_SCAN_BYTES"]).sha256
            except files.FileRejected as rejected:
                errors["photo"] = f"{rejected}（仅接受 JPEG 或 PNG 照片）"
    elif not photo_sha:
        errors["photo"] = "请拍摄客户与工作人员的现场合影"
    signature_sha = previous.get("signature_sha256")
    if form.signature.data:
        try:
            signature_sha = files.store(_data_url_bytes(form.signature.data), allowed={"image/png"},
                                        max_bytes=2 * 1024 * 1024).sha256
        except (files.FileRejected, ValueError, binascii.Error):
            errors["signature"] = "签名图像无法识别，请客户重新签名"
    elif not signature_sha:
        errors["signature"] = "请客户在平板上手写签名"
    if errors:
        for name, message in errors.items():
            field = getattr(form, name, form.present)
            field.errors = [*field.errors, message]
        return _render_step(application, "witness", form, status=422)
    coordinates = form.coordinates()
    services.save_step(application, "witness", {
        "present": sorted(p.staff_id for p in present), "witness_id": witness.staff_id, "remote": remote,
        "video_reference": (form.video_reference.data or "").strip() or None,
        "video_at": utcnow().isoformat() if remote else None,
        "place": form.place.data.strip(), "latitude": coordinates[0] if coordinates else None,
        "longitude": coordinates[1] if coordinates else None, "met_at": utcnow().isoformat(),
        "photo_sha256": photo_sha, "photo_consent": True, "signature_sha256": signature_sha, "work_id_shown": True,
    }, current_user)
    return _advance(application, "witness")


def _data_url_bytes(value: str) -> bytes:
    """The bytes of a data: URL the signature pad sends (image/png, base64)."""
    header, _, encoded = value.partition(",")
    if not header.startswith("data:image/png;base64"):
        raise ValueError("not a PNG data URL")
    return base64.b64decode(encoded, validate=True)


def _card_read_from_form(application):
    return reader_services.usable_read(request.form.get("card_read_id"), reader_services.terminal_for(request),
                                       current_user, application)


def _disclosure_data(form: DisclosureForm) -> dict:
    return {
        "version": choices.DISCLOSURE_VERSION,
        "explained_by": form.explained_by.data,
        "customer_acknowledged": True,
        "agent_acknowledged": bool(form.agent_acknowledged.data),
    }


def _save_verification(application):
    """Ask the identity service about the customer's name and ID number."""
    id_number, name = application.id_number, application.customer_name
    # The service may be slow: end the read transaction so other clerks can write meanwhile.
    db.session.commit()
    check = current_app.extensions["identity_service"].check(id_number, name)
    application = _load_editable(application.reference)
    services.record_identity_check(application, check, current_user)
    if check.result == "match":
        return _advance(application, "verification")
    return _render_step(application, "verification", status=200)


def _save_suitability(application):
    questionnaire = services.active_questionnaire(application.customer_type)
    definition = scoring.questionnaire_from_dict(questionnaire.definition)
    answers = {q.key: request.form.getlist(q.key) for q in definition.questions}
    errors = scoring.check_answers(definition, answers)
    if errors:
        return _render_step(application, "suitability", status=422, answers=answers,
                            answer_errors={e.question_key: e.message for e in errors})
    services.record_assessment(application, questionnaire, answers, current_user)
    return _advance(application, "suitability")


def _save_summary(application):
    try:
        services.submit_application(application, current_user)
    except services.SubmitRefused as refused:
        # Conflicts have their own box on the summary; list only the other reasons.
        shown = {conflict.message for conflict in services.consistency_conflicts(application)}
        return _render_step(application, "summary", status=422,
                            submit_errors=[reason for reason in refused.reasons if reason not in shown])
    return see_other(url_for("opening.submitted", reference=application.reference))


_SAVE_HANDLERS = {
    "channel": _save_channel,
    "identity": _save_identity,
    "contact": _save_form_step("contact"),
    "verification": _save_verification,
    "agent": _save_form_step("agent"),
    "disclosure": _save_form_step("disclosure"),
    "suitability": _save_suitability,
    "agreements": _save_form_step("agreements"),
    "witness": _save_witness,
    "summary": _save_summary,
}


@bp.route("/<reference>/card")
@roles_required(*services.OPENING_ROLES)
def card_read(reference: str):
    """Wait for a card on this terminal's reader, then fill the identity step (htmx polls this)."""
    application = _load(reference)
    if not services.can_edit(current_user, application):
        abort(403, "该申请不在可编辑状态，或由其他柜员录入。")
    terminal = reader_services.terminal_for(request)
    if terminal is None or terminal.reader is None:
        return page("opening/_card_status.html", application=application, unpaired=True)
    now = utcnow()
    try:
        since = datetime.fromtimestamp(float(request.args["since"]), timezone.utc).replace(tzinfo=None)
    except (KeyError, ValueError, OverflowError, OSError):
        since = now  # the first call: start waiting from this moment
    read = reader_services.latest_read_for(terminal, since, now)
    if read is not None:
        audit.record("reader.fill", "card_read", read.id, application=application.reference, terminal_id=terminal.id)
        values = reader_services.identity_values(read)
        form = IdentityForm(data=_form_data("identity", values))
        response = _render_step(application, "identity", form, card_read=read, card_fields=sorted(values))
        response.headers["HX-Retarget"] = "#wizard"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    timed_out = now - since > CARD_WAIT
    return page("opening/_card_status.html", application=application, since=since.replace(tzinfo=timezone.utc).timestamp(),
                timed_out=timed_out)


@bp.route("/<reference>/submitted")
@roles_required(*services.OPENING_ROLES)
def submitted(reference: str):
    """Confirm that the application is in the review queue."""
    application = _load(reference)
    return page("opening/submitted.html", application=application)


@bp.route("/<reference>/withdraw", methods=["POST"])
@roles_required(*services.OPENING_ROLES)
def withdraw(reference: str):
    """Void a draft the customer no longer wants."""
    application = _load_editable(reference)
    reason = (request.form.get("reason") or "").strip()[:200] or "客户放弃开户"
    services.withdraw_application(application, current_user, reason)
    return see_other(url_for("opening.index"))


def _advance(application, key: str):
    """After a save, show the next step (a fragment for htmx, a redirect otherwise)."""
    following = workflow.next_step(key, application.channel)
    if not request.htmx:
        return see_other(_step_url(application, following))
    return _render_step(application, following, push=True)


def _bound_form(application, key: str):
    form_class = FORM_STEPS[key]
    kwargs = {}
    if key == "agent":
        kwargs = {"customer_type": application.customer_type, "customer_id_number": application.id_number}
    if key == "disclosure":
        agent = application.step_data("agent") or {}
        kwargs = {"has_agent": bool(agent.get("has_agent"))}
    if request.method == "POST":
        form = form_class(**kwargs)
    else:
        form = form_class(data=_form_data(key, application.step_data(key)), **kwargs)
    if key == "witness":
        people = [SelectChoice(s.id, f"{s.full_name}（{s.role_label}{'，营销人员' if s.is_marketing else ''}）")
                  for s in services.witness_candidates(current_user)]
        form.present.choices = people
        form.witness_id.choices = [SelectChoice("", "请选择")] + people
        if request.method == "GET" and not form.present.data:
            form.present.data = [current_user.id]
    if key == "disclosure":
        form.explained_by.choices = [SelectChoice(s.id, f"{s.full_name}（{s.role_label}）") for s in services.branch_colleagues(current_user)]
        if form.explained_by.data is None:
            form.explained_by.data = current_user.id
    return form


def _form_data(key: str, data: dict | None) -> dict | None:
    """Turn saved step data back into form field values."""
    if not data:
        return None
    values = dict(data)
    for name in ("birth_date", "valid_from", "valid_to"):
        if values.get(name):
            values[name] = date.fromisoformat(values[name])
    if key == "identity":
        values["valid_long_term"] = data.get("valid_to") is None
    if key == "agent":
        if not data.get("has_agent"):
            return {"has_agent": "no"}
        agent_values = {f"agent_{k}": v for k, v in values.items() if k not in ("relationship", "authorization_ref", "notarization_no")}
        agent_values.update(has_agent="yes", agent_valid_long_term=data.get("valid_to") is None,
                            relationship=data.get("relationship"), authorization_ref=data.get("authorization_ref"),
                            notarization_no=data.get("notarization_no"))
        return agent_values
    if key == "agreements":
        values.update({f"agreement_{a}": True for a in data.get("agreements", [])})
    if key == "witness":
        values["mode"] = "remote" if data.get("remote") else "in_person"
        values["signature"] = None  # the saved signature stays unless the customer signs again
    return values


def _rejection(application):
    """The reviewer's rejection the clerk is correcting, if the application was returned."""
    if application is None or application.status != "rejected":
        return None
    decision = review_services.latest_decision(application)
    return decision if decision is not None and decision.decision == "reject" else None


def _render_step(application, key: str, form=None, status: int = 200, push: bool = False, **extra):
    """Render one step inside the wizard page (or just the wizard block for htmx)."""
    context = {
        "rejection": _rejection(application),
        "application": application,
        "step_key": key,
        "steps": workflow.steps_for(application.channel if application else "onsite"),
        "steps_by_key": workflow.STEP_BY_KEY,
        "completed": application.completed_steps if application else set(),
        "choices": choices,
        "id_type_labels": ID_TYPE_LABELS,
    }
    if key in FORM_STEPS:
        context["form"] = form or _bound_form(application, key)
    elif key == "channel":
        context["form"] = form or ChannelForm(data=_form_data("channel", application.step_data("channel")))
    elif key == "verification":
        context["verification"] = services.latest_verification(application)
        context["answer_labels"] = ANSWER_LABELS
        context["service_simulated"] = current_app.extensions["identity_service"].simulated
    elif key == "suitability":
        questionnaire = services.active_questionnaire(application.customer_type)
        assessment = services.latest_assessment(application)
        context["questionnaire"] = scoring.questionnaire_from_dict(questionnaire.definition)
        context["answers"] = extra.pop("answers", None) or (assessment.answers if assessment else {})
        context["answer_errors"] = extra.pop("answer_errors", {})
        context["assessment"] = assessment
        context["assessment_label"] = presenters.class_label(assessment)
    elif key == "summary":
        context.update(presenters.summary_context(application))
        context["conflicts"] = services.consistency_conflicts(application)
    context.update(extra)
    push_url = _step_url(application, key) if push and application else None
    return page("opening/wizard.html", block="wizard", status=status, push_url=push_url, **context)
