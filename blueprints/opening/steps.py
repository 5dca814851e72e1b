"""The wizard's steps as the web sees them: one spec per step, from saved data to form and back.

`workflow.STEPS` says which steps there are, in what order and on which channel; `SPECS`
says, for each of them, which form it shows, how saved data fills that form, what else
its template needs and how a post is saved. Every caller (the step route, the card read,
the summary) goes through `build_form`, `render` and `SPECS[key].save`, so a step looks the
same whether it is reached by htmx, by the back button or by its URL.
"""
import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Callable

from flask import current_app, request, session, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from blueprints.opening import documents, presenters, scoring, services, workflow
from blueprints.opening import witness as witness_rules
from blueprints.opening.forms import (
    AgentForm,
    AgreementsForm,
    ChannelForm,
    ContactForm,
    DisclosureForm,
    IdentityForm,
    WithdrawForm,
    WitnessForm,
)
from blueprints.opening.identity_service import ANSWER_LABELS
from blueprints.reader import services as reader_services
from blueprints.reader.models import CardRead
from blueprints.staff_admin import services as grants
from core import choices, files
from core.db import keep_refusal, release_for_external_call
from core.extensions import db
from core.idempotency import TokenNotYours
from core.reference import ID_TYPE_LABELS
from core.render import page, see_other
from core.timeutil import business_today, utcnow

IMAGE_TYPES = {"image/jpeg", "image/png"}
# Uploads kept between a refused save and the next one, so a 422 never loses a photo.
PENDING_UPLOADS = "pending_uploads"


def _nothing(*_args) -> dict:
    return {}


@dataclass(frozen=True)
class StepView:
    """How one wizard step is shown and saved."""

    key: str
    save: Callable
    form: type | None = None
    # Constructor options that depend on the application (e.g. whether there is an agent).
    form_options: Callable = _nothing
    # Saved step data -> form field values.
    to_form: Callable = lambda data: dict(data)
    # Choices and defaults that depend on who is working; called on every build.
    prepare: Callable | None = None
    # What else the template needs besides the form.
    context: Callable = _nothing


# ---------------------------------------------------------------- shared machinery

def step_url(application, key: str) -> str:
    return url_for("opening.step", reference=application.reference, key=key)


def build_form(application, key: str, posted: bool = False):
    """The step's form: from the post being saved, or else from what is saved."""
    spec = SPECS[key]
    options = spec.form_options(application) if application is not None else {}
    if posted:
        form = spec.form(**options)
    else:
        saved = application.step_data(key) if application is not None else None
        form = spec.form(formdata=None, data=spec.to_form(saved) if saved else None, **options)
    if spec.prepare is not None:
        spec.prepare(form, application, posted)
    return form


def open_rejection(application):
    """The reviewer's rejection the clerk is correcting, while the application is returned."""
    if application is None or application.status != workflow.Status.REJECTED:
        return None
    return services.open_rejection(application)


def render(application, key: str, form=None, status: int = 200, push: bool = False, **extra):
    """Render one step inside the wizard page (or just the wizard block for htmx)."""
    spec = SPECS[key]
    channel = application.channel if application else "onsite"
    rejection = open_rejection(application)
    context = {
        "rejection": rejection,
        "rejection_corrected": bool(rejection and services.rejection_corrected(application, rejection)),
        "application": application,
        "step_key": key,
        "step_number": workflow.step_number(channel, key),
        "numbered_steps": workflow.numbered_steps(channel),
        "steps_by_key": workflow.STEP_BY_KEY,
        "completed": application.completed_steps if application else set(),
        "choices": choices,
        "id_type_labels": ID_TYPE_LABELS,
        "can_withdraw": application is not None and services.can_withdraw(current_user, application),
        "withdraw_form": WithdrawForm(formdata=None),
    }
    if spec.form is not None:
        context["form"] = form or build_form(application, key)
    context.update(spec.context(application, context))
    # What a refused save passes (the answers as typed, its errors) wins over what is saved.
    context.update(extra)
    push_url = step_url(application, key) if push and application else None
    return page("opening/wizard.html", block="wizard", status=status, push_url=push_url, **context)


def advance(application, key: str):
    """After a save: the next step, or the summary once a returned step has been corrected."""
    rejection = open_rejection(application)
    if rejection is not None and services.rejection_corrected(application, rejection):
        following = "summary"
    else:
        following = workflow.next_step(key, application.channel)
    if not request.htmx:
        return see_other(step_url(application, following))
    return render(application, following, push=True)


def stay(application, key: str, **extra):
    """After a save whose result the clerk must see first (a check, a score): this step again."""
    if not request.htmx:
        return see_other(step_url(application, key))
    return render(application, key, push=True, **extra)


def _save_with_form(key: str, to_data: Callable | None = None):
    """A save handler for a step that is one form: validate, save, move on."""
    def save(application):
        form = build_form(application, key, posted=True)
        if not form.validate_on_submit():
            return render(application, key, form, status=422)
        services.save_step(application, key, to_data(form) if to_data else form.to_data(), current_user)
        return advance(application, key)
    return save


def _dates(values: dict, names=("birth_date", "valid_from", "valid_to")) -> dict:
    for name in names:
        if values.get(name):
            values[name] = date.fromisoformat(values[name])
    return values


# ---------------------------------------------------------------- channel

def save_new():
    """Start an application from the channel form (the first step has no application yet)."""
    form = build_form(None, "channel", posted=True)
    if not form.validate_on_submit() or not form.client_token.data or not _channel_granted(form):
        return render(None, "channel", form, status=422)
    try:
        application = services.start_application(current_user, form.channel.data, form.customer_type.data,
                                                 form.client_token.data[:64])
    except TokenNotYours:
        # Not this clerk's form: the same choices again with a token of their own, nothing said of the other.
        form.client_token.data = secrets.token_urlsafe(24)
        form.channel.errors = [*form.channel.errors, TOKEN_REFUSED]
        return render(None, "channel", form, status=422)
    return advance(application, "channel")


TOKEN_REFUSED = "该页面已失效，请确认以上选择后再次点击开始。"
WITNESS_NOT_GRANTED = "本营业部未获总部赋权办理“见证开户”业务，请选择现场开户或联系总部管理员"


def _channel_granted(form) -> bool:
    """A witness opening needs HQ's grant of 见证开户 from its first step, not only at the witness step."""
    if form.channel.data == "witness" and not grants.may_perform(current_user, "witness_opening"):
        form.channel.errors = [*form.channel.errors, WITNESS_NOT_GRANTED]
        return False
    return True


def _prepare_channel(form, application, posted):
    if application is None and not form.client_token.data:
        form.client_token.data = secrets.token_urlsafe(24)
    if not posted and form.channel.data is None:
        form.channel.data = "witness" if current_user.role == "witness" else "onsite"
        form.customer_type.data = "individual"


def _save_channel(application):
    form = build_form(application, "channel", posted=True)
    if not form.validate_on_submit() or not _channel_granted(form):
        return render(application, "channel", form, status=422)
    services.save_step(application, "channel", {"channel": form.channel.data,
                                                 "customer_type": form.customer_type.data}, current_user)
    return advance(application, "channel")


# ---------------------------------------------------------------- identity

def card_read_from_form(application) -> CardRead | None:
    """The card read the identity form was filled from, if this terminal's reader made it for this clerk."""
    return reader_services.usable_read(request.form.get("card_read_id"), reader_services.terminal_for(request),
                                       current_user, application)


def identity_from_card(application, read: CardRead):
    """The identity step filled from a card read, not yet saved."""
    values = reader_services.identity_values(read)
    form = IdentityForm(formdata=None, data=_identity_to_form(values))
    return render(application, "identity", form, card_read=read, card_fields=sorted(values))


def _identity_to_form(data: dict) -> dict:
    values = _dates(dict(data))
    values["valid_long_term"] = data.get("valid_to") is None if "valid_long_term" not in data else data["valid_long_term"]
    return values


def _save_identity(application):
    """Save the identity step, recording which values came from the card reader unchanged."""
    form = build_form(application, "identity", posted=True)
    read = card_read_from_form(application)
    card = {"card_read": read, "card_fields": sorted(reader_services.identity_values(read)) if read else []}
    if not form.validate_on_submit():
        return render(application, "identity", form, status=422, **card)
    data = form.to_data()
    conflict = services.identity_conflict(application, data, current_user)
    if conflict:
        form.id_number.errors = [*form.id_number.errors, conflict]
        return render(application, "identity", form, status=422, **card)
    if read is not None:
        values = reader_services.identity_values(read)
        submitted = dict(data, valid_long_term=data.get("valid_to") is None)
        data["card_fields"] = sorted(k for k, v in values.items() if submitted.get(k) == v)
        data["card_read_id"] = read.id
        read.used_by_application_id = application.id
    services.save_step(application, "identity", data, current_user)
    return advance(application, "identity")


# ---------------------------------------------------------------- verification

def _save_verification(application):
    """Ask the identity service about the customer's name and ID number, then show its answer."""
    id_number, name, reference = application.id_number, application.customer_name, application.reference
    # The service may be slow: end the read transaction so other clerks can write meanwhile.
    release_for_external_call(db.session)
    check = current_app.extensions["identity_service"].check(id_number, name)
    application = services.find_visible(current_user, reference, for_update=True)
    if application is None or not services.can_edit(current_user, application):
        return see_other(url_for("opening.resume", reference=reference))
    services.record_identity_check(application, check, current_user)
    if check.result != "match":
        return render(application, "verification", just_checked=True)
    # A match is shown too, with 下一步: the clerk sees the result before moving on.
    return stay(application, "verification", just_checked=True)


def _verification_context(application, _context):
    return {
        "verification": services.latest_verification(application),
        "answer_labels": ANSWER_LABELS,
        "service_simulated": current_app.extensions["identity_service"].simulated,
        "next_key": workflow.next_step("verification", application.channel),
    }


# ---------------------------------------------------------------- agent, disclosure

def _agent_options(application) -> dict:
    return {"customer_type": application.customer_type, "customer_id_number": application.id_number}


def _agent_to_form(data: dict) -> dict:
    if not data.get("has_agent"):
        return {"has_agent": "no"}
    values = _dates({f"agent_{k}": v for k, v in data.items() if k not in ("relationship", "authorization_ref", "notarization_no")},
                    names=("agent_birth_date", "agent_valid_from", "agent_valid_to"))
    values.update(has_agent="yes", agent_valid_long_term=data.get("valid_to") is None,
                  relationship=data.get("relationship"), authorization_ref=data.get("authorization_ref"),
                  notarization_no=data.get("notarization_no"))
    return values


def _disclosure_options(application) -> dict:
    return {"has_agent": bool((application.step_data("agent") or {}).get("has_agent"))}


def _prepare_disclosure(form, application, posted):
    form.explained_by.choices = [SelectChoice(s.id, f"{s.full_name}（{s.role_label}）")
                                 for s in services.branch_colleagues(current_user)]
    if not posted and form.explained_by.data is None:
        form.explained_by.data = current_user.id


def _disclosure_data(form: DisclosureForm) -> dict:
    return {
        "version": choices.DISCLOSURE_VERSION,
        "explained_by": form.explained_by.data,
        "customer_acknowledged": True,
        "agent_acknowledged": bool(form.agent_acknowledged.data),
    }


# ---------------------------------------------------------------- suitability

def _questionnaire(application):
    questionnaire = services.active_questionnaire(application.customer_type)
    return questionnaire, scoring.questionnaire_from_dict(questionnaire.definition)


def _save_suitability(application):
    questionnaire, definition = _questionnaire(application)
    answers = {q.key: request.form.getlist(q.key) for q in definition.questions}
    errors = scoring.check_answers(definition, answers, services.customer_facts(application))
    if errors:
        return render(application, "suitability", status=422, answers=answers,
                      answer_errors={e.question_key: e.message for e in errors})
    services.record_assessment(application, questionnaire, answers, current_user)
    # The result (score, class, knock-out, expiry) is shown before the clerk moves on.
    return stay(application, "suitability", just_assessed=True)


def _suitability_context(application, _context):
    questionnaire, definition = _questionnaire(application)
    assessment = services.latest_assessment(application)
    facts = services.customer_facts(application)
    answers = dict(assessment.answers) if assessment and assessment.questionnaire_id == questionnaire.id else {}
    return {
        "questionnaire": definition,
        "answers": answers,
        "derived": scoring.derived_answers(definition, facts),
        "facts": facts,
        "answer_errors": {},
        "assessment": assessment,
        "assessment_label": presenters.class_label(assessment),
        "next_key": workflow.next_step("suitability", application.channel),
    }


# ---------------------------------------------------------------- agreements

def _agreements_to_form(data: dict) -> dict:
    values = dict(data)
    values.update({f"agreement_{a}": True for a in data.get("agreements", [])})
    return values


# ---------------------------------------------------------------- documents

def _save_documents(application):
    """Keep the scans given in this post; move on once every required document is there."""
    errors = documents.store_uploads(application, request.files, current_user)
    missing = documents.missing(application)
    if errors or (missing and request.form.get("action") != "upload"):
        for kind in missing:
            errors.setdefault(kind, f"请上传{documents.KIND_LABELS[kind]}")
        # The scans that passed their checks are kept: the clerk does not scan them again.
        keep_refusal()
        return render(application, "documents", status=422, document_errors=errors)
    if request.form.get("action") == "upload":
        return stay(application, "documents")
    services.save_step(application, "documents", documents.step_data(application), current_user)
    return advance(application, "documents")


def _documents_context(application, _context):
    return {
        "required_documents": documents.required_kinds(application),
        "current_documents": documents.current_by_kind(application),
        "document_labels": documents.KIND_LABELS,
        "document_errors": {},
        "max_scan_mb": current_app.config["MAX_SCAN_BYTES"] // (1024 * 1024),
    }


# ---------------------------------------------------------------- witness

def _witness_to_form(data: dict) -> dict:
    values = dict(data)
    values["mode"] = "remote" if data.get("remote") else "in_person"
    values["signature"] = None  # the saved signature stays unless the customer signs again
    return values


def _prepare_witness(form, application, posted):
    people = [SelectChoice(s.id, services.witness_candidate_label(s)) for s in services.witness_candidates(current_user)]
    form.present.choices = people
    form.witness_id.choices = [SelectChoice("", "请选择")] + people
    if not posted and not form.present.data:
        form.present.data = [current_user.id]


def pending_files(application) -> dict:
    """Photo and signature kept from a refused witness save, by kind."""
    return _pending(application)


def _pending(application) -> dict:
    return session.get(PENDING_UPLOADS, {}).get(application.reference, {})


def _keep_pending(application, **shas) -> None:
    pending = dict(session.get(PENDING_UPLOADS, {}))
    pending[application.reference] = {**pending.get(application.reference, {}), **shas}
    session[PENDING_UPLOADS] = pending


def _drop_pending(application) -> None:
    pending = dict(session.get(PENDING_UPLOADS, {}))
    if pending.pop(application.reference, None) is not None:
        session[PENDING_UPLOADS] = pending


def _data_url_bytes(value: str) -> bytes:
    """The bytes of a data: URL the signature pad sends (image/png, base64)."""
    header, _, encoded = value.partition(",")
    if not header.startswith("data:image/png;base64"):
        raise ValueError("not a PNG data URL")
    return base64.b64decode(encoded, validate=True)


def _save_witness(application):
    """Save who met the customer and who witnessed (第十七条), with the photo and the signature."""
    form = build_form(application, "witness", posted=True)
    previous = application.step_data("witness") or {}
    pending = _pending(application)
    valid = form.validate_on_submit()
    staff = {person.id: person for person in services.witness_candidates(current_user)}
    present = [services.witness_facts(staff[i]) for i in (form.present.data or []) if i in staff]
    witness = services.witness_facts(staff[form.witness_id.data]) if form.witness_id.data in staff else None
    remote = form.mode.data == "remote"
    errors = witness_rules.check_witnessing(present, witness, remote, form.video_reference.data, business_today()) if valid else {}
    # The photo and the signature are kept even when something else is wrong, so the
    # customer is not photographed or asked to sign again after a refused save.
    photo_sha = pending.get("photo") or previous.get("photo_sha256")
    upload = form.photo.data
    if upload is not None and getattr(upload, "filename", ""):
        if not form.photo_consent.data:
            errors["photo_consent"] = "采集人脸影像前须取得客户的单独同意"
        else:
            try:
                photo_sha = files.store(upload.read(), allowed=IMAGE_TYPES,
                                        max_bytes=current_app.config["MAX_SCAN_BYTES"]).sha256
                _keep_pending(application, photo=photo_sha)
            except files.FileRejected as rejected:
                errors["photo"] = f"{rejected}；仅接受 JPEG 或 PNG 照片"
    elif not photo_sha:
        errors["photo"] = "请拍摄客户与工作人员的现场合影"
    signature_sha = pending.get("signature") or previous.get("signature_sha256")
    if form.signature.data:
        try:
            signature_sha = files.store(_data_url_bytes(form.signature.data), allowed={"image/png"},
                                        max_bytes=2 * 1024 * 1024).sha256
            _keep_pending(application, signature=signature_sha)
        except (files.FileRejected, ValueError, binascii.Error):
            errors["signature"] = "签名图像无法识别，请客户重新签名"
    elif not signature_sha:
        errors["signature"] = "请客户在平板上手写签名"
    if not valid or errors:
        for name, message in errors.items():
            target = getattr(form, name, form.present)
            target.errors = [*target.errors, message]
        return render(application, "witness", form, status=422)
    coordinates = form.coordinates()
    services.save_step(application, "witness", {
        "present": sorted(p.staff_id for p in present), "witness_id": witness.staff_id, "remote": remote,
        "video_reference": (form.video_reference.data or "").strip() or None,
        "video_at": utcnow().isoformat() if remote else None,
        "place": form.place.data.strip(), "latitude": coordinates[0] if coordinates else None,
        "longitude": coordinates[1] if coordinates else None, "met_at": utcnow().isoformat(),
        "photo_sha256": photo_sha, "photo_consent": True, "signature_sha256": signature_sha, "work_id_shown": True,
    }, current_user)
    _drop_pending(application)
    return advance(application, "witness")


def _witness_context(application, _context):
    saved = application.step_data("witness") or {}
    pending = _pending(application)
    return {
        "saved_witness": saved,
        "photo_sha": pending.get("photo") or saved.get("photo_sha256"),
        "signature_sha": pending.get("signature") or saved.get("signature_sha256"),
        "photo_pending": bool(pending.get("photo")),
        "signature_pending": bool(pending.get("signature")),
    }


# ---------------------------------------------------------------- summary

def _save_summary(application):
    try:
        services.submit_application(application, current_user)
    except services.SubmitRefused as refused:
        # Conflicts have their own box on the summary; list only the other reasons.
        shown = {conflict.message for conflict in services.consistency_conflicts(application, current_user)}
        return render(application, "summary", status=422,
                      submit_errors=[reason for reason in refused.reasons if reason not in shown])
    return see_other(url_for("opening.submitted", reference=application.reference))


def _summary_context(application, _context):
    context = presenters.summary_context(application)
    context["conflicts"] = services.consistency_conflicts(application, current_user)
    context["missing_steps"] = workflow.missing_for_submit(application.completed_steps, application.channel)
    context["current_documents"] = documents.current_by_kind(application)
    context["document_labels"] = documents.KIND_LABELS
    return context


SPECS: dict[str, StepView] = {spec.key: spec for spec in (
    StepView("channel", _save_channel, ChannelForm, prepare=_prepare_channel),
    StepView("identity", _save_identity, IdentityForm, to_form=_identity_to_form),
    StepView("contact", _save_with_form("contact"), ContactForm),
    StepView("verification", _save_verification, context=_verification_context),
    StepView("agent", _save_with_form("agent"), AgentForm, form_options=_agent_options, to_form=_agent_to_form),
    StepView("documents", _save_documents, context=_documents_context),
    StepView("disclosure", _save_with_form("disclosure", _disclosure_data), DisclosureForm,
             form_options=_disclosure_options, prepare=_prepare_disclosure),
    StepView("suitability", _save_suitability, context=_suitability_context),
    StepView("agreements", _save_with_form("agreements"), AgreementsForm, to_form=_agreements_to_form),
    StepView("witness", _save_witness, WitnessForm, to_form=_witness_to_form, prepare=_prepare_witness,
             context=_witness_context),
    StepView("summary", _save_summary, context=_summary_context),
)}

if set(SPECS) != set(workflow.STEP_KEYS):  # pragma: no cover - caught by the first import in any test
    raise RuntimeError(f"steps without a view or views without a step: {set(SPECS) ^ set(workflow.STEP_KEYS)}")
