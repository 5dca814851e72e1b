"""Operations on opening applications; they flush, the request boundary commits."""
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from blueprints.auth.models import Staff
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.opening import documents, progress, scoring, workflow
from blueprints.opening import witness as witness_rules
from blueprints.opening.identity_service import Answer, IdentityCheck
from blueprints.opening.models import (
    Application,
    ApplicationStep,
    IdentityVerification,
    Questionnaire,
    StatusChange,
    SuitabilityAssessment,
)
from blueprints.opening.workflow import Status
from core import audit, crypto, files
from core.extensions import db
from core.idempotency import made_with
from core.reference import ID_TYPE_LABELS, IdType
from core.roles import OPENING_ROLES, Role
from core.timeutil import business_today, utcnow

OPEN_STATUSES = (Status.DRAFT, Status.REJECTED)
REFERENCE_PATTERN = re.compile(r"KH\d{14}")


def visible_applications(user: Staff):
    """A select() of the applications `user` may see: own branch, or all for HQ."""
    query = select(Application)
    if not user.sees_all_branches:
        query = query.where(Application.branch_id == user.branch_id)
    return query


def find_visible(user: Staff, reference: str, for_update: bool = False) -> Application | None:
    """Load an application the user may see; `for_update` locks it for a decision."""
    if not REFERENCE_PATTERN.fullmatch(reference):
        return None
    query = visible_applications(user).where(Application.reference == reference)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


def can_edit(user: Staff, application: Application) -> bool:
    """Only the clerk who entered the application edits it, and only while it is open."""
    return (
        user.role in OPENING_ROLES
        and application.created_by_id == user.id
        and application.status in workflow.EDITABLE
    )


def shown_in_full(user: Staff, application: Application) -> bool:
    """Whether `user` may read the personal values of this application unmasked (if their role reads them).

    Until its first submission an application is work in progress at its maker's counter: nobody else has a
    task on it yet, so a colleague, a branch manager or HQ sees it masked (that it exists, how far it got,
    who enters it), the images not at all, and the review side does not open it (review.routes._load).
    """
    return application.submission_no > 0 or application.created_by_id == user.id


def is_in_review(application: Application) -> bool:
    return application.status in (Status.SUBMITTED, Status.RESUBMITTED)


def my_open_applications(user: Staff) -> list[Application]:
    """The clerk's drafts and returned applications, newest first."""
    return list(db.session.scalars(
        visible_applications(user)
        .where(Application.created_by_id == user.id, Application.status.in_(OPEN_STATUSES))
        .order_by(Application.updated_at.desc())
    ))


@dataclass(frozen=True)
class TodoItem:
    """One line of the clerk's to-do (我的待办): what to do next and why."""

    application: Application
    next_step: str
    next_label: str
    rejection: object | None
    documents_requested: list


# The to-do shows at most this many lines of each kind (open applications, scans asked again);
# the full lists are the home page's queues.
TODO_PAGE = 20


class TodoList(list):
    """The to-do's lines, how many of each kind a page shows, and whether some were left out."""

    page: int = TODO_PAGE
    truncated: bool = False


def my_todo(user: Staff, limit: int = TODO_PAGE) -> TodoList:
    """Drafts, returned applications and scans asked again, each with the step to go on with.

    A fixed number of queries whatever the clerk has open: a page of each kind with their steps,
    the rejections of the returned ones and the scans asked again, each in one query.
    """
    items = TodoList()
    items.page = limit
    mine = visible_applications(user).where(Application.created_by_id == user.id)
    open_ = list(db.session.scalars(
        mine.where(Application.status.in_(OPEN_STATUSES)).options(selectinload(Application.steps))
        .order_by(Application.updated_at.desc(), Application.id.desc()).limit(limit + 1)))
    rejections = latest_rejections([a for a in open_[:limit] if a.status == Status.REJECTED])
    for application in open_[:limit]:
        rejection = rejections.get(application.id)
        key = resume_step(application, rejection) if rejection is not None else \
            workflow.first_incomplete(application.completed_steps, application.channel)
        items.append(TodoItem(application, key, workflow.step_label(application.channel, key), rejection, []))
    asked = list(db.session.scalars(
        mine.where(Application.status.in_((Status.SUBMITTED, Status.RESUBMITTED)),
                   documents.requested_again_exists())
        .order_by(Application.updated_at.desc(), Application.id.desc()).limit(limit + 1)))
    requested = documents.requested_again_for([a.id for a in asked[:limit]])
    for application in asked[:limit]:
        items.append(TodoItem(application, "documents", "补充证件影像", None, requested.get(application.id, [])))
    items.truncated = len(open_) > limit or len(asked) > limit
    return items


# Applications the clerk sent on: what happened to them since.
SUBMITTED_STATUSES = tuple(s for s in Status if s not in (Status.DRAFT, Status.REJECTED, Status.WITHDRAWN))


def my_submitted(user: Staff, limit: int = 50) -> list[Application]:
    """The clerk's submitted applications (已提交) and where each stands, newest first."""
    return list(db.session.scalars(
        visible_applications(user)
        .where(Application.created_by_id == user.id, Application.status.in_(SUBMITTED_STATUSES))
        .order_by(Application.updated_at.desc()).limit(limit)
    ))


def resume_step(application: Application, rejection=None) -> str:
    """The step a clerk returns to: the returned step until it is corrected, else the first unsaved one."""
    rejection = rejection if rejection is not None else open_rejection(application)
    if rejection is not None and rejection.return_step in workflow.keys_for(application.channel) \
            and not rejection_corrected(application, rejection):
        return rejection.return_step
    return workflow.first_incomplete(application.completed_steps, application.channel)


# The review package tells opening where a returned application's rejection is kept (rejections_from),
# so that opening imports none of review's code.
_REJECTIONS: dict[str, Callable] = {}


def rejections_from(provider):
    """Register `provider(application)`: the latest decision on the application (with return_step, reason,
    reviewer, decided_at and decision), or None."""
    _REJECTIONS["latest"] = provider
    return provider


def many_rejections_from(provider):
    """Register `provider(application_ids)`: the latest decision on each of the applications, by id, in one query."""
    _REJECTIONS["latest_many"] = provider
    return provider


def latest_rejections(applications: list[Application]) -> dict[int, object]:
    """The reviewer's rejection of each returned application, by id (those without one left out)."""
    returned = [a for a in applications if a.status == Status.REJECTED]
    if not returned:
        return {}
    if "latest_many" in _REJECTIONS:
        decisions = _REJECTIONS["latest_many"]([a.id for a in returned])
    else:
        decisions = {a.id: _REJECTIONS["latest"](a) for a in returned} if "latest" in _REJECTIONS else {}
    return {key: d for key, d in decisions.items() if d is not None and d.decision == "reject"}


def open_rejection(application: Application):
    """The reviewer's rejection of a returned application (None unless it is returned)."""
    if application.status != Status.REJECTED or "latest" not in _REJECTIONS:
        return None
    decision = _REJECTIONS["latest"](application)
    return decision if decision is not None and decision.decision == "reject" else None


def rejection_corrected(application: Application, decision) -> bool:
    """Whether the step the reviewer named was saved again after the rejection."""
    if not decision.return_step:
        return True
    step = next((s for s in application.steps if s.step == decision.return_step), None)
    return step is not None and step.saved_at > decision.decided_at


def can_withdraw(user: Staff, application: Application) -> bool:
    """The clerk who entered a draft or a returned application may void it (作废)."""
    return can_edit(user, application) and Status.WITHDRAWN in workflow.TRANSITIONS[Status(application.status)]


def _new_reference() -> str:
    # Date plus random digits: unique enough with a retry, and not guessable in sequence.
    return f"KH{business_today():%Y%m%d}{secrets.randbelow(10**6):06d}"


def _started_with(actor: Staff, client_token: str) -> Application | None:
    """The application `actor` started with `client_token`; TokenNotYours when someone else did (a token
    copied from another terminal, staff member or branch never names, opens or reveals that application)."""
    return made_with(Application, client_token, actor.id)


def start_application(actor: Staff, channel: str, customer_type: str, client_token: str) -> Application:
    """Create a draft with its first step saved; the same client token, from the same clerk, returns the same draft."""
    existing = _started_with(actor, client_token)
    if existing is not None:
        return existing
    reference = _new_reference()
    while db.session.scalar(select(Application.id).where(Application.reference == reference)):
        reference = _new_reference()
    application = Application(
        reference=reference,
        client_token=client_token,
        branch_id=actor.branch_id,
        channel=channel,
        customer_type=customer_type,
        status=Status.DRAFT,
        created_by_id=actor.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(application)
    except IntegrityError:
        # The same click arrived twice at once and the other request won the token.
        return _started_with(actor, client_token)
    _put_step(application, "channel", {"channel": channel, "customer_type": customer_type}, actor)
    audit.record("application.create", "application", application.reference, channel=channel)
    db.session.flush()
    return application


def _put_step(application: Application, key: str, data: dict, actor: Staff) -> ApplicationStep:
    step = next((s for s in application.steps if s.step == key), None)
    if step is None:
        step = ApplicationStep(step=key, data=data, saved_by_id=actor.id)
        application.steps.append(step)
    else:
        step.data = data
        step.saved_by_id = actor.id
        step.saved_at = utcnow()
    return step


def _drop_steps(application: Application, keys) -> None:
    for step in [s for s in application.steps if s.step in keys]:
        application.steps.remove(step)


def save_step(application: Application, key: str, data: dict, actor: Staff) -> None:
    """Save one step's valid data as part of the draft, invalidating what depended on it."""
    previous = application.step_data(key)
    if key == "channel":
        application.channel = data["channel"]
        application.customer_type = data["customer_type"]
    _drop_steps(application, workflow.invalidated_by(key, previous, data))
    if key == "identity":
        application.customer_name = data["name"]
        application.id_type = data["id_type"]
        application.id_number = data["id_number"]
        application.id_number_index = crypto.blind_index(data["id_number"])
    _put_step(application, key, data, actor)
    # Touch the parent so the version column catches two editors saving at once.
    application.updated_at = utcnow()
    changed = sorted(f for f in data if previous is None or previous.get(f) != data.get(f))
    audit.record("application.save_step", "application", application.reference, step=key, fields=changed)
    db.session.flush()


def record_identity_check(application: Application, check: IdentityCheck, actor: Staff) -> IdentityVerification:
    """Keep the identity service's answer; only a match completes the verification step."""
    verification = IdentityVerification(
        application_id=application.id,
        subject="customer",
        id_number_index=application.id_number_index,
        name=application.customer_name,
        result=check.result,
        simulated=check.simulated,
        provider=check.provider,
        reference=check.reference,
        message=check.message,
        elapsed_ms=check.elapsed_ms,
        checked_by_id=actor.id,
    )
    db.session.add(verification)
    db.session.flush()
    if check.result == Answer.MATCH:
        save_step(application, "verification", {"verification_id": verification.id, "result": check.result,
                                                 "simulated": check.simulated}, actor)
    else:
        _drop_steps(application, ("verification",))
        application.updated_at = utcnow()
    audit.record("application.identity_check", "application", application.reference,
                 result=check.result, simulated=check.simulated)
    db.session.flush()
    return verification


def latest_verification(application: Application) -> IdentityVerification | None:
    """The newest check of the name and ID number as they are now (older ones are history)."""
    return db.session.scalar(
        select(IdentityVerification)
        .where(IdentityVerification.application_id == application.id,
               IdentityVerification.id_number_index == application.id_number_index,
               IdentityVerification.name == application.customer_name)
        .order_by(IdentityVerification.id.desc())
        .limit(1)
    )


def active_questionnaire(customer_type: str) -> Questionnaire:
    found = db.session.scalar(
        select(Questionnaire)
        .where(Questionnaire.customer_type == customer_type, Questionnaire.is_active.is_(True))
        .order_by(Questionnaire.id.desc())
        .limit(1)
    )
    if found is None:
        raise LookupError(f"no active questionnaire for {customer_type}: run the migrations")
    return found


def record_assessment(application: Application, questionnaire: Questionnaire, answers: dict[str, list[str]],
                      actor: Staff) -> SuitabilityAssessment:
    """Score the answers and keep them with the result, assessor, date and expiry."""
    definition = scoring.questionnaire_from_dict(questionnaire.definition)
    result = scoring.score(definition, answers)
    today = business_today()
    assessment = SuitabilityAssessment(
        application_id=application.id,
        questionnaire_id=questionnaire.id,
        answers=answers,
        score=result.score,
        investor_class=result.investor_class,
        is_lowest=result.is_lowest,
        assessor_id=actor.id,
        expires_on=scoring.expires_on(today, definition),
    )
    db.session.add(assessment)
    db.session.flush()
    save_step(application, "suitability", {
        "assessment_id": assessment.id, "score": result.score, "investor_class": result.investor_class,
        "is_lowest": result.is_lowest, "questionnaire": questionnaire.version,
    }, actor)
    return assessment


def latest_assessment(application: Application) -> SuitabilityAssessment | None:
    return db.session.scalar(
        select(SuitabilityAssessment)
        .where(SuitabilityAssessment.application_id == application.id)
        .order_by(SuitabilityAssessment.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Conflict:
    """A key-information disagreement with another record of the same ID number (第九条)."""

    source: str
    reference: str
    message: str


def consistency_conflicts(application: Application, viewer: Staff) -> list[Conflict]:
    """Check name and ID type against every customer and open application with this ID number."""
    if not application.id_number_index:
        return []
    return _conflicts(application.id_number_index, application.customer_name, application.id_type,
                      application.id, viewer, include_in_flight=True)


def identity_conflict(application: Application, identity: dict, viewer: Staff) -> str | None:
    """At the identity step: whether this ID number is already someone's under another name or type."""
    found = _conflicts(crypto.blind_index(identity["id_number"]), identity["name"], identity["id_type"],
                       application.id, viewer, include_in_flight=False)
    return found[0].message if found else None


# Said when the other record is not the viewer's to see (another branch): no name, no number.
ELSEWHERE = ("该证件号码已属于一位现有客户，但姓名或证件类型与本次录入不一致。请核对证件原件；"
             "如确系客户本人且资料已变更，须先办理关键信息变更。")


def _conflicts(index: str, name: str, id_type: str, application_id: int | None, viewer: Staff | None,
               include_in_flight: bool) -> list[Conflict]:
    def visible(branch_id: int) -> bool:
        return viewer is not None and (viewer.sees_all_branches or viewer.branch_id == branch_id)

    conflicts: list[Conflict] = []
    type_label = ID_TYPE_LABELS.get(IdType(id_type), id_type)
    for customer in db.session.scalars(select(Customer).where(customer_services.with_id_number_index(index))):
        problems = _key_differences(customer.name, customer.id_type, name, id_type)
        if problems and visible(customer.branch_id):
            conflicts.append(Conflict("customer", customer.customer_no,
                                      f"已有客户 {customer.customer_no} 使用该证件号码，但{problems}，与本次录入（{name}，{type_label}）不一致"))
        elif problems:
            conflicts.append(Conflict("customer", "", ELSEWHERE))
    others = list(db.session.scalars(select(Application).where(
        Application.id_number_index == index,
        Application.id != application_id,
        Application.status != Status.WITHDRAWN,
    )))
    stages = progress.stages_of(other.id for other in others if other.status == Status.APPROVED)
    for other in others:
        stage = stages.get(other.id)
        if stage in progress.SETTLED_WITHOUT_ACCOUNT:
            continue  # the opening ended without an active account; the customer may apply again
        problems = _key_differences(other.customer_name, other.id_type, name, id_type)
        if problems and other.status in OPEN_STATUSES and not include_in_flight:
            continue  # another draft may still be corrected or voided; it is checked at submit
        if problems and visible(other.branch_id):
            conflicts.append(Conflict("application", other.reference,
                                      f"开户申请 {other.reference} 使用该证件号码，但{problems}，与本次录入不一致"))
        elif problems:
            conflicts.append(Conflict("application", "", ELSEWHERE.replace("现有客户", "在途开户申请的客户")))
        elif include_in_flight and stage != progress.Stage.ACTIVE and other.status not in OPEN_STATUSES:
            label = progress.STAGE_LABELS[stage] if stage else other.status_label
            where = f" {other.reference}（{label}）" if visible(other.branch_id) else "（在其他营业部办理）"
            conflicts.append(Conflict("application", other.reference if visible(other.branch_id) else "",
                                      f"该客户已有在途开户申请{where}，不能重复提交"))
    unique = {conflict.message: conflict for conflict in conflicts}
    return list(unique.values())


def _key_differences(name_a, type_a, name_b, type_b) -> str:
    parts = []
    if name_a != name_b:
        parts.append(f"姓名为“{name_a}”")
    if type_a != type_b:
        parts.append(f"证件类型为{ID_TYPE_LABELS.get(IdType(type_a), type_a)}")
    return "、".join(parts)


class SubmitRefused(Exception):
    """The application cannot be submitted yet; `reasons` says why, in Chinese."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def submit_application(application: Application, actor: Staff) -> bool:
    """Send the application to the review queue; returns False if it was already there."""
    if is_in_review(application):
        return False
    reasons = [f"请先完成“{workflow.step_label(application.channel, key)}”"
               for key in workflow.missing_for_submit(application.completed_steps, application.channel)]
    verification = latest_verification(application)
    if verification is not None and verification.result == Answer.MISMATCH:
        reasons.append("公民身份核查结果为不一致，不能提交")
    reasons += _uncorrected_rejection(application)
    agent, disclosure = application.step_data("agent") or {}, application.step_data("disclosure") or {}
    if agent.get("has_agent") and not disclosure.get("agent_acknowledged"):
        reasons.append("由代理人办理时，代理人须接受投资者教育并签字确认（第七条）")
    reasons += [conflict.message for conflict in consistency_conflicts(application, actor)]
    if reasons:
        raise SubmitRefused(reasons)
    target = workflow.submit_target(application.status)
    transition(application, target, actor, reason=None)
    application.submission_no += 1
    application.submitted_at = utcnow()
    save_step(application, "summary", {"submitted_at": application.submitted_at.isoformat()}, actor)
    audit.record("application.submit", "application", application.reference, status=target)
    db.session.flush()
    return True


def _uncorrected_rejection(application: Application) -> list[str]:
    """A returned application goes back only after the step the reviewer named was saved again."""
    decision = open_rejection(application)
    if decision is None or rejection_corrected(application, decision):
        return []
    title = workflow.STEP_BY_KEY[decision.return_step].title
    return [f"请先按复核意见修改并保存“{title}”（退回原因：{decision.reason}）"]


def link_to_customer(application: Application, customer_id: int) -> None:
    """The approved application and its assessments now belong to the customer's record."""
    application.customer_id = customer_id
    latest = None
    for assessment in db.session.scalars(select(SuitabilityAssessment)
                                         .where(SuitabilityAssessment.application_id == application.id)
                                         .order_by(SuitabilityAssessment.id)):
        assessment.customer_id = customer_id
        latest = assessment
    if latest is not None:
        customer = db.session.get(Customer, customer_id)
        customer.risk_class, customer.risk_lowest = latest.investor_class, latest.is_lowest


def transition(application: Application, target: Status, actor: Staff | None, reason: str | None) -> None:
    """Move the application to `target` if the transition table allows it, and record it."""
    current = Status(application.status)
    workflow.check_transition(current, target)
    application.status = target
    db.session.add(StatusChange(application_id=application.id, from_status=current, to_status=target,
                                actor_id=actor.id if actor else None, reason=reason))


def withdraw_application(application: Application, actor: Staff, reason: str) -> None:
    """Void a draft the customer no longer wants; it stays on record as withdrawn."""
    transition(application, Status.WITHDRAWN, actor, reason)
    audit.record("application.withdraw", "application", application.reference)
    db.session.flush()


def status_history(application: Application) -> list[StatusChange]:
    return list(db.session.scalars(
        select(StatusChange).where(StatusChange.application_id == application.id).order_by(StatusChange.id)
    ))


def branch_colleagues(user: Staff) -> list[Staff]:
    """Staff of the user's branch who can explain the risk disclosure."""
    return list(db.session.scalars(
        select(Staff).where(Staff.branch_id == user.branch_id, Staff.is_enabled.is_(True),
                            or_(Staff.role == Role.CLERK, Staff.role == Role.WITNESS, Staff.role == Role.REVIEWER,
                                Staff.role == Role.BRANCH_MANAGER))
        .order_by(Staff.full_name)
    ))


def witness_candidates(user: Staff) -> list[Staff]:
    """Staff of the branch who may be listed as having met the customer off site."""
    return list(db.session.scalars(
        select(Staff).where(Staff.branch_id == user.branch_id, Staff.is_enabled.is_(True),
                            Staff.role.in_((Role.CLERK, Role.WITNESS, Role.MARKETING, Role.BRANCH_MANAGER)))
        .order_by(Staff.full_name)
    ))


def witness_facts(staff: Staff) -> witness_rules.StaffFacts:
    return witness_rules.StaffFacts(staff.id, staff.full_name, staff.qualification_no, staff.is_regular_employee,
                                    staff.is_marketing or staff.role == Role.MARKETING, staff.witness_trained_on)


def witness_candidate_label(staff: Staff) -> str:
    """How a colleague is listed on the witness step: name and role, marketing said once."""
    marketing = "，营销人员" if staff.is_marketing and staff.role != Role.MARKETING else ""
    return f"{staff.full_name}（{staff.role_label}{marketing}）"


def customer_facts(application: Application) -> dict:
    """What the ID says about the customer that the questionnaire must agree with (age today)."""
    identity = application.step_data("identity") or {}
    if not identity.get("birth_date"):
        return {}
    born, today = date.fromisoformat(identity["birth_date"]), business_today()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return {"age": age, "birth_date": identity["birth_date"]}


@dataclass(frozen=True)
class ApplicationFile:
    kind: str
    mime: str

    @property
    def extension(self) -> str:
        return files.extension_for(self.mime)


def application_file(application: Application, sha256: str, pending: dict | None = None) -> ApplicationFile | None:
    """One of the files recorded on this application (scans, witness photo, signature), or None."""
    for document in documents.current(application.id):
        if document.sha256 == sha256:
            return ApplicationFile(document.kind, document.mime)
    witness = application.step_data("witness") or {}
    pending = pending or {}
    for kind, saved in (("photo", witness.get("photo_sha256")), ("signature", witness.get("signature_sha256"))):
        if sha256 in (saved, pending.get(kind)):
            mime = files.detected_type(sha256)  # None: not in the store
            return ApplicationFile(kind, mime) if mime else None
    return None
