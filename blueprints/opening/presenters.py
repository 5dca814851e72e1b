"""Read-only views of an application for templates, shared by every blueprint that shows one."""
from dataclasses import dataclass
from typing import Callable
from datetime import datetime

from flask_login import current_user
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening import scoring, services, workflow
from blueprints.opening.models import Application
from blueprints.opening.workflow import Status
from core import choices
from core.extensions import db
from core.reference import BANKS, ID_TYPE_LABELS
from core.roles import ROLE_LABELS, Role
from core.security import sees_full_id
from core.timeutil import business_today

# The witness step's two images (见证现场合影, 客户手写签名): URL name → key in the step data.
WITNESS_IMAGES = {"photo": "photo_sha256", "signature": "signature_sha256"}
WITNESS_IMAGE_TITLES = {"photo": "见证现场合影", "signature": "客户手写签名"}


# What other packages show on an application's pages (the accounts opened, the review decisions):
# they register a provider here, so that opening imports none of them.
_CONTRIBUTIONS: dict[str, Callable] = {}


def contributes(name: str):
    """Register `provider(application)` as the value of `name` on the application's detail page."""

    def register(provider):
        _CONTRIBUTIONS[name] = provider
        return provider

    return register


def contributions(application) -> dict:
    return {name: provider(application) for name, provider in _CONTRIBUTIONS.items()}


def summary_context(application) -> dict:
    """Everything entered, as the read-only summary templates expect it."""
    assessment = services.latest_assessment(application)
    disclosure = application.step_data("disclosure") or {}
    witness_data = application.step_data("witness") if application.channel == "witness" else None
    people = staff_by_id(_witness_staff_ids(witness_data) | {disclosure.get("explained_by")})
    return {
        "identity": application.step_data("identity") or {},
        "contact": application.step_data("contact") or {},
        "agent": application.step_data("agent") or {},
        "disclosure": disclosure,
        "explained_by": _person(people, disclosure.get("explained_by")),
        "agreements": application.step_data("agreements") or {},
        "verification": services.latest_verification(application),
        "assessment": assessment,
        "assessment_label": class_label(assessment),
        "assessment_expired": bool(assessment and assessment.expires_on < business_today()),
        "witness": witness_record(witness_data, people),
        "channel_label": choices.CHANNELS.get(application.channel, application.channel),
        "show_full_id": sees_full_id(current_user) and services.shown_in_full(current_user, application),
        "images_shown": services.shown_in_full(current_user, application),
        "choices": choices,
        "id_type_labels": ID_TYPE_LABELS,
        "status_labels": workflow.STATUS_LABELS,
        "banks": BANKS,
    }


def class_label(assessment) -> str | None:
    return scoring.class_label(assessment.investor_class, assessment.is_lowest) if assessment else None


def staff_by_id(ids) -> dict[int, Staff]:
    """The staff members with these ids, in one query."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    return {person.id: person for person in db.session.scalars(select(Staff).where(Staff.id.in_(wanted)))}


@dataclass(frozen=True)
class Person:
    """A staff member as a record names them: name, role, securities qualification (证券从业资格)."""

    name: str
    role_label: str
    qualification_no: str | None
    is_marketing: bool


def _person(people: dict[int, Staff], staff_id) -> Person | None:
    staff = people.get(staff_id)
    if staff is None:
        return None
    return Person(staff.full_name, ROLE_LABELS.get(staff.role, staff.role), staff.qualification_no,
                  bool(staff.is_marketing or staff.role == Role.MARKETING))


@dataclass(frozen=True)
class WitnessRecord:
    """The witness record of an off-site opening (见证记录, 第十七条), with staff resolved to names."""

    present: tuple[Person, ...]
    witness: Person | None
    remote: bool
    video_reference: str | None
    video_at: datetime | None
    place: str | None
    latitude: float | None
    longitude: float | None
    met_at: datetime | None
    work_id_shown: bool
    photo_consent: bool
    images: tuple[str, ...]  # the keys of WITNESS_IMAGES that were recorded

    @property
    def mode_label(self) -> str:
        if self.remote:
            return "一名工作人员面见客户，开户见证人员通过远程实时视频见证"
        return "两名及以上工作人员当面见证"


def _witness_staff_ids(data: dict | None) -> set:
    if not data:
        return set()
    return set(data.get("present") or []) | {data.get("witness_id")}


def _moment(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def witness_record(data: dict | None, people: dict[int, Staff]) -> WitnessRecord | None:
    """The witness step's data as a record; None when nothing was recorded."""
    if not data:
        return None
    return WitnessRecord(
        present=tuple(p for p in (_person(people, i) for i in data.get("present") or []) if p),
        witness=_person(people, data.get("witness_id")),
        remote=bool(data.get("remote")),
        video_reference=data.get("video_reference"),
        video_at=_moment(data.get("video_at")),
        place=data.get("place"),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        met_at=_moment(data.get("met_at")),
        work_id_shown=bool(data.get("work_id_shown")),
        photo_consent=bool(data.get("photo_consent")),
        images=tuple(kind for kind, key in WITNESS_IMAGES.items() if data.get(key)),
    )


def witness_image_sha(application, kind: str) -> str | None:
    """The content hash of one of the application's two witness images, as its witness step recorded it."""
    key = WITNESS_IMAGES.get(kind)
    data = application.step_data("witness") if application.channel == "witness" else None
    return (data or {}).get(key) if key else None


def customer_witness_records(customer) -> list[tuple[Application, WitnessRecord]]:
    """The witness records of the customer's witness openings (for the archive file), oldest first."""
    applications = list(db.session.scalars(
        select(Application).where(Application.customer_id == customer.id, Application.channel == "witness",
                                  Application.status.not_in((Status.DRAFT, Status.WITHDRAWN)))
        .order_by(Application.id)))
    data = {a.id: a.step_data("witness") for a in applications}
    people = staff_by_id(set().union(*(_witness_staff_ids(d) for d in data.values())) if data else set())
    return [(a, record) for a in applications if (record := witness_record(data[a.id], people))]


def consistency(application) -> list:
    """The key-information consistency check (第九条) as it stands now: the conflicts, none when it passes."""
    return services.consistency_conflicts(application, current_user)
