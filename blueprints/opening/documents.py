"""ID document scans captured during opening (证件影像) and the reviewer's decision on each.

The counter scanner (多易拍) or the tablet camera gives a JPEG, PNG or PDF; its type is
judged by content and an image must decode within a pixel limit before it is kept. A
reviewer accepts a scan or asks for it again with a reason, without rejecting the whole
application; a scan asked again is the clerk's to-do until it is replaced.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exists, select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application, ApplicationDocument
from core import audit, files
from core.extensions import db
from core.timeutil import utcnow

KIND_LABELS = {
    "id_front": "客户身份证件正面（人像面）",
    "id_back": "客户身份证件反面（国徽面）",
    "agent_id_front": "代理人身份证件正面",
    "agent_id_back": "代理人身份证件反面",
    "authorization": "经公证的授权委托书",
}
CUSTOMER_KINDS = ("id_front", "id_back")
AGENT_KINDS = ("agent_id_front", "agent_id_back", "authorization")
SCAN_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
# Fewer pixels than this on the short side and the ID's text cannot be read.
MIN_SIDE = 300


class ReviewStatus:
    PENDING = "pending"
    ACCEPTED = "accepted"
    REQUESTED = "requested"


REVIEW_LABELS = {ReviewStatus.PENDING: "待复核", ReviewStatus.ACCEPTED: "已确认", ReviewStatus.REQUESTED: "要求重新提交"}


class DocumentRefused(Exception):
    """A decision on a scan that cannot be taken; the message says why, in Chinese."""


@dataclass(frozen=True)
class CheckedScan:
    stored: files.StoredFile
    width: int | None
    height: int | None


def required_kinds(application: Application) -> tuple[str, ...]:
    """The scans this application needs: the customer's ID, and the agent's papers when there is one."""
    agent = application.step_data("agent") or {}
    return CUSTOMER_KINDS + (AGENT_KINDS if agent.get("has_agent") else ())


def current(application_id: int) -> list[ApplicationDocument]:
    return list(db.session.scalars(
        select(ApplicationDocument)
        .where(ApplicationDocument.application_id == application_id, ApplicationDocument.superseded_at.is_(None))
        .order_by(ApplicationDocument.id)))


def current_by_kind(application: Application) -> dict[str, ApplicationDocument]:
    return {document.kind: document for document in current(application.id)}


def missing(application: Application) -> list[str]:
    have = current_by_kind(application)
    return [kind for kind in required_kinds(application) if kind not in have]


def requested_again(application: Application) -> list[ApplicationDocument]:
    """Scans the reviewer asked for again that the clerk has not replaced yet."""
    return [d for d in current(application.id) if d.review_status == ReviewStatus.REQUESTED]


def _requested_again_where():
    return (ApplicationDocument.superseded_at.is_(None), ApplicationDocument.review_status == ReviewStatus.REQUESTED)


def requested_again_exists():
    """The condition on Application that it has a scan asked for again and not yet replaced."""
    return exists().where(ApplicationDocument.application_id == Application.id, *_requested_again_where())


def requested_again_for(application_ids: list[int]) -> dict[int, list[ApplicationDocument]]:
    """requested_again() of many applications in one query, by application id."""
    found: dict[int, list[ApplicationDocument]] = {}
    if application_ids:
        for document in db.session.scalars(select(ApplicationDocument).where(
                ApplicationDocument.application_id.in_(application_ids), *_requested_again_where())
                .order_by(ApplicationDocument.id)):
            found.setdefault(document.application_id, []).append(document)
    return found


def step_data(application: Application) -> dict:
    """What the documents step records: which scan of each kind was confirmed."""
    return {"documents": {kind: document.sha256 for kind, document in current_by_kind(application).items()}}


def check_scan(data: bytes) -> CheckedScan:
    """Keep a scan only if its content is an allowed type and an image decodes within the limits."""
    if not data:
        raise files.FileRejected("文件为空，请重新扫描或拍摄")
    mime = files.sniff(data)
    if mime not in SCAN_TYPES:
        raise files.FileRejected("文件内容不是 JPEG、PNG 或 PDF（按文件内容识别，与文件名无关）")
    # files.check decodes an image in full, within the pixel limit (MAX_IMAGE_PIXELS), before it is kept.
    checked = files.check(data, allowed=SCAN_TYPES, max_bytes=current_app.config["MAX_SCAN_BYTES"])
    width, height = (checked.image.width, checked.image.height) if checked.image else (None, None)
    if checked.image and min(width, height) < MIN_SIDE:
        raise files.FileRejected(f"图像过小（{width}×{height} 像素），证件文字无法辨认，请重新扫描")
    return CheckedScan(files.keep(data, checked), width, height)


def add(application: Application, kind: str, scan: CheckedScan, name: str | None, actor: Staff) -> ApplicationDocument:
    """Keep a scan as the current one of its kind; the one it replaces stays on record."""
    if kind not in KIND_LABELS:
        raise ValueError(f"unknown document kind {kind}")
    previous = current_by_kind(application).get(kind)
    if previous is not None and previous.sha256 == scan.stored.sha256 and previous.review_status != ReviewStatus.REQUESTED:
        return previous  # the same file sent twice (double click, retry): nothing new
    version = 1
    if previous is not None:
        previous.superseded_at = utcnow()
        version = previous.version + 1
    document = ApplicationDocument(
        application_id=application.id, kind=kind, version=version, sha256=scan.stored.sha256,
        mime=scan.stored.mime, size=scan.stored.size, width=scan.width, height=scan.height,
        original_name=_clean_name(name), uploaded_by_id=actor.id,
    )
    db.session.add(document)
    application.updated_at = utcnow()
    audit.record("application.document_upload", "application", application.reference, kind=kind, version=version,
                 replaces=previous.id if previous else None)
    db.session.flush()
    return document


def store_uploads(application: Application, uploads, actor: Staff, kinds=None) -> dict[str, str]:
    """Check and keep every scan posted (field name = kind); returns errors by kind."""
    errors: dict[str, str] = {}
    allowed = kinds or required_kinds(application)
    for kind in allowed:
        upload = uploads.get(kind)
        if upload is None or not upload.filename:
            continue
        try:
            scan = check_scan(upload.read())
        except files.FileRejected as rejected:
            errors[kind] = str(rejected)
            continue
        add(application, kind, scan, upload.filename, actor)
    return errors


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    # Only the last path part: some browsers send the client's full path.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:120] or None


def find(application: Application, document_id: int) -> ApplicationDocument | None:
    document = db.session.get(ApplicationDocument, document_id)
    return document if document is not None and document.application_id == application.id else None


def accept(document: ApplicationDocument, reviewer: Staff, application: Application) -> None:
    """The reviewer confirms this scan (per-document decision)."""
    _decide(document, reviewer, application, ReviewStatus.ACCEPTED, None)


def request_again(document: ApplicationDocument, reviewer: Staff, application: Application, reason: str) -> None:
    """The reviewer asks the clerk for this scan again, with a reason, leaving the rest of the review open."""
    if not (reason or "").strip():
        raise DocumentRefused("要求重新提交须填写原因")
    _decide(document, reviewer, application, ReviewStatus.REQUESTED, reason.strip()[:500])


def _decide(document, reviewer, application, status, reason) -> None:
    if document.superseded_at is not None:
        raise DocumentRefused("该影像已被柜员替换，请刷新后复核新的影像")
    document.review_status = status
    document.review_reason = reason
    document.reviewed_by_id = reviewer.id
    document.reviewed_at = utcnow()
    application.updated_at = utcnow()
    audit.record("application.document_review", "application", application.reference, actor=reviewer,
                 kind=document.kind, version=document.version, decision=status)
    db.session.flush()


def accept_pending(application: Application, reviewer: Staff) -> None:
    """At approval, the scans not individually decided are accepted by the approving reviewer."""
    for document in current(application.id):
        if document.review_status == ReviewStatus.PENDING:
            document.review_status = ReviewStatus.ACCEPTED
            document.reviewed_by_id = reviewer.id
            document.reviewed_at = utcnow()
    db.session.flush()


def approval_blockers(application: Application) -> list[str]:
    """Why the application cannot be approved yet because of its scans."""
    return [f"{KIND_LABELS[d.kind]}已要求重新提交，须待柜员补充后复核" for d in requested_again(application)]
