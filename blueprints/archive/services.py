"""Archive operations: finding files, scans, dossier versions, the lending register, exports."""
import collections
import io
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from pypdf import PdfReader
from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.orm import joinedload

from blueprints.accounts.models import DepositoryBinding, FundAccount, SecuritiesAccount
from blueprints.archive import dossier as dossier_content
from blueprints.archive.dossier_pdf import render_dossier_html
from blueprints.archive.models import (
    SCAN_MIME_TYPES,
    ArchiveScan,
    Dossier,
    ExportJob,
    ExportStatus,
    LendingAction,
    LendingRecord,
    ScanType,
)
from blueprints.auth.models import Branch, Staff
from blueprints.changes import services as changes
from blueprints.customers import services as customer_services
from blueprints.customers.lifecycle import ENDED
from blueprints.customers.models import Customer, CustomerProfile, IdDocument
from blueprints.opening import documents, scoring
from blueprints.opening import services as opening_services
from blueprints.opening.identity_service import ANSWER_LABELS
from blueprints.opening.models import Application, ApplicationDocument
from blueprints.return_visit.models import ReturnVisit, ReturnVisitCase, ReturnVisitCaseChange
from blueprints.review.models import ReviewDecision
from blueprints.search import keys as search_keys
from blueprints.search import services as search_services
from core import audit, files, keyset, masking
from core.extensions import db
from core.pdf import pool, renderer
from core.reference import ID_TYPE_LABELS
from core.roles import Role
from core.timeutil import BEIJING, beijing_day_start, to_beijing, utcnow


class ArchiveRefused(Exception):
    """The archive action is not allowed or not possible; the message says why, in Chinese."""


# --- finding -------------------------------------------------------------------------------------

def visible_customers(user: Staff):
    """Customers whose files `user` may read: the own branch's (closed ones too), all for HQ."""
    query = select(Customer)
    if not user.sees_all_branches:
        # A probe per customer by its id, not the set of every account ever opened at the branch.
        opened_here = exists().where(FundAccount.customer_id == Customer.id, FundAccount.branch_id == user.branch_id)
        query = query.where(or_(Customer.branch_id == user.branch_id, opened_here))
    return query


SEARCH_SCOPE, NAME_SCOPE = "archive.search", "archive.name"
# What the result list shows of a customer: plain columns only, nothing to decrypt.
RESULT_COLUMNS = (Customer.id, Customer.customer_no, Customer.branch_id, Customer.kind, Customer.archive_no,
                  Customer.created_at, CustomerProfile.name)


def _result_rows(query):
    return query.with_only_columns(*RESULT_COLUMNS).join(
        CustomerProfile, and_(CustomerProfile.customer_id == Customer.id,
                              CustomerProfile.version == Customer.profile_version))


def search(user: Staff, customer_no: str = "", id_number: str = "", date_from: date | None = None,
           date_to: date | None = None, branch_id: int | None = None, cursor: str | None = None,
           size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the archive search; an ID number is matched by its blind index, never stored or sent in clear.

    A customer-number search walks the number's index from the typed prefix, in number order;
    otherwise the newest files come first, down the index of the creation time.
    """
    query = visible_customers(user)
    number = customer_no.strip().upper()
    if number:
        query = query.where(Customer.customer_no >= number, Customer.customer_no < search_keys.prefix_upper_bound(number))
    if id_number:
        query = query.where(customer_services.with_id_number(id_number))
    if date_from:
        query = query.where(Customer.created_at >= beijing_day_start(date_from))
    if date_to:
        query = query.where(Customer.created_at < beijing_day_start(date_to + timedelta(days=1)))
    if branch_id:
        query = query.where(Customer.branch_id == branch_id)
    if number:
        orders = [keyset.Order(Customer.customer_no)]
    else:
        orders = [keyset.Order(Customer.created_at, True), keyset.Order(Customer.id, True)]
    return keyset.paginate(_result_rows(query), orders, cursor, scope=f"{SEARCH_SCOPE}.{len(orders)}", size=size,
                           scalars=False, key=lambda row: tuple(getattr(row, order.column.key) for order in orders))


def search_by_name(user: Staff, name: str, cursor: str | None = None, size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the customers whose name (or given name, or its pinyin) starts with `name`.

    Found through the search keys' prefix ranges (blueprints/search), within the files the user may
    read; the cursor keeps the key kind's rank and the customer only, never the name.
    """
    query = search_keys.parse_query(name)
    if query is None or query.shape not in ("name", "pinyin"):
        raise ArchiveRefused("请输入姓名的开头部分（汉字或拼音）")
    start = keyset.decode_cursor(cursor, NAME_SCOPE, 2)
    after = search_services.matched_at(query, *start) if start is not None else None
    within = visible_customers(user).whereclause
    matches, more = search_services.prefix_matches(user, query, size, after, within=true() if within is None else within)
    ids = [customer_id for _rank, _value, customer_id in matches]
    rows = {row.id: row for row in db.session.execute(_result_rows(select(Customer)).where(Customer.id.in_(ids)))} if ids else {}
    next_cursor = keyset.encode_cursor((matches[-1][0], matches[-1][2]), NAME_SCOPE) if more and matches else None
    return keyset.Page(rows=[rows[i] for i in ids if i in rows], next_cursor=next_cursor, first=after is None, size=size)




def find_customer(user: Staff, customer_no: str) -> Customer | None:
    return db.session.scalar(visible_customers(user).where(Customer.customer_no == customer_no))


# --- lending register ----------------------------------------------------------------------------

def register(actor: Staff, customer: Customer | None, action: LendingAction, purpose: str,
             dossier: Dossier | None = None, scan: ArchiveScan | None = None,
             export_job: ExportJob | None = None, ip: str | None = None) -> LendingRecord:
    """Enter one read or take-out in the lending register (借阅登记); the purpose is required."""
    if not purpose or not purpose.strip():
        raise ArchiveRefused("请填写借阅目的")
    record = LendingRecord(staff_id=actor.id, branch_id=actor.branch_id, customer_id=customer.id if customer else None,
                           action=action, purpose=purpose.strip()[:500], dossier_id=dossier.id if dossier else None,
                           scan_id=scan.id if scan else None, export_job_id=export_job.id if export_job else None,
                           ip=ip)
    db.session.add(record)
    audit.record(f"archive.{action}", "customer", customer.customer_no if customer else None, actor=actor,
                 purpose=purpose.strip()[:100])
    return record


REGISTER_SCOPE = "archive.register"


def lending_page(user: Staff, cursor: str | None = None, staff_id: int | None = None, customer_no: str = "",
                 action: str = "", date_from: date | None = None, date_to: date | None = None,
                 size: int = keyset.PAGE_SIZE) -> keyset.Page:
    """One page of the lending register, newest first, walked down the index of its order.

    The page's readers come with it; the customers' numbers and names in one more query, without
    decrypting anything (the name is all the register shows, masked). `page.extra["customers"]`.
    """
    query = select(LendingRecord).options(joinedload(LendingRecord.staff))
    if not user.sees_all_branches:
        # The branch's own staff's reads, and anyone's reads (HQ included) of the branch's customers:
        # a probe per record by primary key, not the set of all the branch's customers.
        own_customer = exists().where(Customer.id == LendingRecord.customer_id, Customer.branch_id == user.branch_id)
        query = query.where(or_(LendingRecord.branch_id == user.branch_id, own_customer))
    if staff_id:
        query = query.where(LendingRecord.staff_id == staff_id)
    if customer_no:
        query = query.join(Customer, LendingRecord.customer_id == Customer.id).where(
            Customer.customer_no == customer_no.strip().upper())
    if action:
        query = query.where(LendingRecord.action == action)
    if date_from:
        query = query.where(LendingRecord.at >= beijing_day_start(date_from))
    if date_to:
        query = query.where(LendingRecord.at < beijing_day_start(date_to + timedelta(days=1)))
    orders = [keyset.Order(LendingRecord.at, True), keyset.Order(LendingRecord.id, True)]
    found = keyset.paginate(query, orders, cursor, scope=REGISTER_SCOPE, size=size, key=lambda r: (r.at, r.id))
    found.extra["customers"] = customer_labels({r.customer_id for r in found.rows if r.customer_id})
    return found


def customer_labels(customer_ids: set[int]) -> dict[int, tuple[str, str]]:
    """(customer number, name) of each customer, from the current profile's plain columns only."""
    if not customer_ids:
        return {}
    rows = db.session.execute(customer_services.current_profiles()
                              .with_only_columns(Customer.id, Customer.customer_no, CustomerProfile.name)
                              .where(Customer.id.in_(customer_ids)))
    return {customer_id: (number, name) for customer_id, number, name in rows}


# --- scans ---------------------------------------------------------------------------------------

def add_scan(customer: Customer, scan_type: str, data: bytes, original_name: str | None, actor: Staff) -> ArchiveScan:
    """Keep an uploaded scan (JPEG, PNG or PDF, judged by content) in the customer's archive."""
    try:
        scan_type = ScanType(scan_type)
    except ValueError:
        raise ArchiveRefused("请选择影像类型") from None
    try:
        stored = files.store(data, allowed=set(SCAN_MIME_TYPES), max_bytes=current_app.config["MAX_SCAN_BYTES"])
    except files.FileRejected as rejected:
        raise ArchiveRefused(f"{rejected}；仅接受 JPEG、PNG 或 PDF") from None
    scan = ArchiveScan(customer_id=customer.id, scan_type=scan_type, sha256=stored.sha256, mime=stored.mime,
                       size=stored.size, original_name=(original_name or "")[:120] or None, uploaded_by_id=actor.id)
    db.session.add(scan)
    audit.record("archive.upload", "customer", customer.customer_no, actor=actor, scan_type=scan_type, mime=stored.mime)
    db.session.flush()
    return scan


def scans_of(customer: Customer) -> list[ArchiveScan]:
    return list(db.session.scalars(select(ArchiveScan).where(ArchiveScan.customer_id == customer.id)
                                   .order_by(ArchiveScan.id)))


# --- dossiers ------------------------------------------------------------------------------------

def dossiers_of(customer: Customer) -> list[Dossier]:
    return list(db.session.scalars(select(Dossier).where(Dossier.customer_id == customer.id)
                                   .order_by(Dossier.version.desc())))


def archive_no_of(customer: Customer) -> str:
    """The customer's archive number (档案编号), given on first use: DA + branch + customer number."""
    if not customer.archive_no:
        branch = db.session.get(Branch, customer.branch_id)
        customer.archive_no = f"DA{branch.code}-{customer.customer_no}"
    return customer.archive_no


def _bj(moment: datetime | None) -> str | None:
    return to_beijing(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def _profile_record(profile: CustomerProfile, staff_names: dict) -> dict:
    """One profile version as plain data; search columns are derived and left out."""
    fields = ("version", "name", "id_type", "id_number", "sex", "birth_date", *customer_services.CONTACT_FIELDS,
              *customer_services.METHOD_FIELDS, "source")
    record = {field: getattr(profile, field) for field in fields}
    record["birth_date"] = profile.birth_date.isoformat() if profile.birth_date else None
    record.update(created_at=_bj(profile.created_at), created_by=staff_names.get(profile.created_by_id, "系统"))
    return record


def _changes_record(customer: Customer, staff_names: dict) -> list[dict]:
    """Every change business with its comparison, people and the systems' answers (full values: the archival record)."""
    history = list(reversed(changes.history(customer)))
    messages = changes.messages_of(history)
    return [{
        "reference": c.reference, "kind": c.kind, "kind_label": changes.kind_label(c), "status": c.status,
        "status_label": changes.status_label(c), "submitted_at": _bj(c.submitted_at), "decided_at": _bj(c.decided_at),
        "clerk": staff_names.get(c.created_by_id), "reviewer": staff_names.get(c.reviewer_id),
        "fields": [{"field": row.field, "label": row.label, "before": row.before, "after": row.after}
                   for row in changes.comparison(c, c.before, c.after)],
        "confirmed_links": c.after.get("confirm") if c.kind == "link_confirmation" else None,
        "systems": [{"label": changes.system_label(m), "state": m.delivery_label} for m in messages[c.id]],
        "applied_version": c.applied_version, "slip_sha256": c.slip_sha256, "signed_slip_sha256": c.signed_slip_sha256,
        "certificate_sha256": c.certificate_sha256,
    } for c in history]


def _id_document_record(document: IdDocument) -> dict:
    record = {field: getattr(document, field) for field in customer_services.ID_DOCUMENT_FIELDS}
    for field in ("birth_date", "valid_from", "valid_to"):
        record[field] = record[field].isoformat() if record[field] else None
    record.update(version=document.version, recorded_at=_bj(document.recorded_at),
                  superseded_at=_bj(document.superseded_at))
    return record


def dossier_record(customer: Customer) -> dict:
    """The customer's whole record as plain data: embedded as record.json and printed."""
    applications = list(db.session.scalars(select(Application).where(
        Application.customer_id == customer.id, Application.status.not_in(("draft", "withdrawn")))
        .order_by(Application.id)))
    staff_names = dict(db.session.execute(select(Staff.id, Staff.full_name)).all())
    result = {"customer": {"customer_no": customer.customer_no, "name": customer.name, "id_type": customer.id_type,
                           "id_number": customer.id_number, "kind": customer.kind,
                           "unified_account_no": customer.unified_account_no,
                           "archive_no": customer.archive_no, "created_at": _bj(customer.created_at),
                           "closed_at": _bj(customer.closed_at)},
              "profile_versions": [_profile_record(p, staff_names) for p in customer_services.profile_versions(customer)],
              "id_documents": [_id_document_record(d) for d in customer_services.id_documents(customer)],
              "changes": _changes_record(customer, staff_names),
              "applications": [], "accounts": []}
    for application in applications:
        verification = opening_services.latest_verification(application)
        assessment = opening_services.latest_assessment(application)
        disclosure = dict(application.step_data("disclosure") or {})
        disclosure["explained_by_name"] = staff_names.get(disclosure.get("explained_by"))
        entry = {
            "reference": application.reference, "channel": application.channel,
            "customer_type": application.customer_type, "status": application.status,
            "submitted_at": _bj(application.submitted_at),
            "identity": application.step_data("identity") or {}, "contact": application.step_data("contact") or {},
            "agent": application.step_data("agent") or {}, "disclosure": disclosure,
            "agreements": application.step_data("agreements") or {},
            "witness": _witness_record(application.step_data("witness"), staff_names),
            "documents": _documents_record(application, staff_names),
            "verification": {"result": verification.result, "result_label": ANSWER_LABELS[verification.result],
                             "simulated": verification.simulated, "provider": verification.provider,
                             "reference": verification.reference, "checked_at": _bj(verification.checked_at)}
            if verification else None,
            "assessment": _assessment_record(assessment, staff_names) if assessment else None,
            "decisions": [{"decision": d.decision, "reason": d.reason, "return_step": d.return_step,
                           "reviewer": staff_names.get(d.reviewer_id), "operator": staff_names.get(d.operator_id),
                           "same_terminal": d.same_terminal, "decided_at": _bj(d.decided_at)}
                          for d in db.session.scalars(select(ReviewDecision).where(
                              ReviewDecision.application_id == application.id).order_by(ReviewDecision.id))],
            "return_visits": [{"attempt_no": v.attempt_no, "outcome": v.outcome, "items": v.items, "notes": v.notes,
                               "agent": staff_names.get(v.agent_id), "visited_at": _bj(v.visited_at),
                               "recording_sha256": v.recording_sha256}
                              for v in db.session.scalars(select(ReturnVisit).where(
                                  ReturnVisit.application_id == application.id).order_by(ReturnVisit.id))],
            "history": [{"from": h.from_status, "to": h.to_status, "actor": staff_names.get(h.actor_id, "系统"),
                         "reason": h.reason, "at": _bj(h.at)} for h in opening_services.status_history(application)],
            "return_visit_history": [{"from": c.from_status, "to": c.to_status, "round_no": c.round_no,
                                      "actor": staff_names.get(c.actor_id, "系统"), "reason": c.reason, "at": _bj(c.at)}
                                     for c in db.session.scalars(
                                         select(ReturnVisitCaseChange)
                                         .join(ReturnVisitCase, ReturnVisitCase.id == ReturnVisitCaseChange.case_id)
                                         .where(ReturnVisitCase.application_id == application.id)
                                         .order_by(ReturnVisitCaseChange.id))],
        }
        result["applications"].append(entry)
    for fund in db.session.scalars(select(FundAccount).where(FundAccount.customer_id == customer.id).order_by(FundAccount.id)):
        result["accounts"].append({"kind": "资金账户", "number": fund.number, "status": fund.status_label,
                                   "note": f"开立 {_bj(fund.opened_at)}"})
        for sub in db.session.scalars(select(SecuritiesAccount).where(SecuritiesAccount.fund_account_id == fund.id)):
            result["accounts"].append({"kind": sub.market_label, "number": sub.number, "status": sub.status_label,
                                       "note": f"一码通 {sub.unified_account_no}" + ("（模拟开立）" if sub.simulated else "")})
        binding = db.session.scalar(select(DepositoryBinding).where(DepositoryBinding.fund_account_id == fund.id))
        if binding:
            result["accounts"].append({"kind": "第三方存管", "number": masking.mask_bank_card(binding.bank_card),
                                       "status": binding.status_label, "note": binding.bank_name
                                       + ("（模拟绑定）" if binding.simulated else "")})
    return result


def _witness_record(witness: dict | None, staff_names: dict) -> dict | None:
    if not witness:
        return None
    return dict(witness, present_names=[staff_names.get(i) for i in witness.get("present", [])],
                witness_name=staff_names.get(witness.get("witness_id")))


def _documents_record(application, staff_names: dict) -> list[dict]:
    """Every ID scan captured during opening, replaced ones included, with the reviewer's decision."""
    return [{"kind": d.kind, "label": documents.KIND_LABELS.get(d.kind, d.kind), "version": d.version,
             "sha256": d.sha256, "mime": d.mime, "current": d.superseded_at is None,
             "uploaded_by": staff_names.get(d.uploaded_by_id), "uploaded_at": _bj(d.uploaded_at),
             "review_status": d.review_status, "review_label": documents.REVIEW_LABELS.get(d.review_status),
             "review_reason": d.review_reason, "reviewed_by": staff_names.get(d.reviewed_by_id),
             "reviewed_at": _bj(d.reviewed_at) if d.reviewed_at else None}
            for d in db.session.scalars(select(ApplicationDocument).where(
                ApplicationDocument.application_id == application.id).order_by(ApplicationDocument.id))]


def _document_images(record: dict) -> list[dict]:
    """The current ID scans of each application, as dossier scans (PDF scans go in as attachments).

    A scan missing from the store is not skipped: the render fails on it (DossierResourceMissing).
    """
    images = []
    for application in record["applications"]:
        for document in application.get("documents", []):
            if document["current"] and document["mime"] != "application/pdf":
                images.append({"title": f"{document['label']}（{application['reference']}，第 {document['version']} 版）",
                               "src": files.url_of(document["sha256"]), "mime": document["mime"]})
    return images


def _document_attachments(record: dict) -> list:
    return [renderer.Attachment(name=f"{application['reference']}-{document['kind']}-v{document['version']}.pdf",
                                data=_read(document["sha256"]), mime_type="application/pdf",
                                description=document["label"], relationship="Source")
            for application in record["applications"] for document in application.get("documents", [])
            if document["current"] and document["mime"] == "application/pdf"]


def _witness_images(record: dict) -> list[dict]:
    """The witness photo and the customer's signature of each witness opening, as dossier scans."""
    images = []
    for application in record["applications"]:
        witness = application.get("witness") or {}
        for key, title in (("photo_sha256", "见证现场合影"), ("signature_sha256", "客户手写签名")):
            digest = witness.get(key)
            if digest:
                images.append({"title": f"{title}（{application['reference']}）", "src": files.url_of(digest),
                               "mime": files.detected_type(digest) or "image/png"})
    return images


def _assessment_record(assessment, staff_names: dict) -> dict:
    definition = scoring.questionnaire_from_dict(assessment.questionnaire.definition)
    answers = []
    for question in definition.questions:
        chosen = [question.option(key) for key in assessment.answers.get(question.key, [])]
        chosen = [option for option in chosen if option is not None]
        answers.append({"question": question.text, "answer": "；".join(f"{o.key}. {o.text}" for o in chosen),
                        "score": max((o.score for o in chosen), default=0)})
    return {"questionnaire": assessment.questionnaire.version, "score": assessment.score,
            "investor_class": assessment.investor_class, "is_lowest": assessment.is_lowest,
            "assessor": staff_names.get(assessment.assessor_id), "assessed_at": _bj(assessment.assessed_at),
            "expires_on": assessment.expires_on.isoformat(), "answers": answers}


@dataclass(frozen=True)
class DossierInputs:
    """Everything a dossier is rendered from, read from the database beforehand."""

    customer_id: int
    archive_no: str
    title: str
    html: str
    attachments: list
    record_sha256: str
    created: datetime


def dossier_inputs(customer: Customer) -> DossierInputs:
    """Read what the dossier shows. Assigns the archive number on first use (a write)."""
    archive_no = archive_no_of(customer)
    record = dossier_record(customer)
    record_bytes = renderer.record_json(record)
    scans = scans_of(customer)
    scan_context = [{"title": f"{s.label}（{_bj(s.uploaded_at)}）", "src": files.url_of(s.sha256),
                     "mime": s.mime} for s in scans] + _document_images(record) + _witness_images(record)
    now = datetime.now(BEIJING)
    branch = db.session.get(Branch, customer.branch_id)
    context = {
        "firm": current_app.config["FIRM_NAME"], "branch": branch.name,
        "customer": {"name": customer.name, "customer_no": customer.customer_no,
                     "id_type_label": ID_TYPE_LABELS.get(customer.id_type, customer.id_type),
                     "id_number_masked": masking.mask_id_number(customer.id_number)},
        "archive_no": archive_no, "generated_at": now.strftime("%Y-%m-%d %H:%M:%S"),
        "fingerprint": renderer.sha256_hex(record_bytes),
        "sections": dossier_content.build_sections(record, scan_context),
    }
    attachments = [renderer.record_attachment(record)]
    attachments += [renderer.Attachment(name=f"scan-{s.id}.pdf", data=_read(s.sha256), mime_type="application/pdf",
                                        description=s.label, relationship="Source")
                    for s in scans if s.mime == "application/pdf"]
    attachments += _document_attachments(record)
    return DossierInputs(customer_id=customer.id, archive_no=archive_no,
                         title=f"{customer.name} 客户开户档案 {archive_no}",
                         html=render_dossier_html(_template_env(), context), attachments=attachments,
                         record_sha256=context["fingerprint"], created=now)


def render_request(inputs: DossierInputs) -> pool.RenderRequest:
    """What a render process needs: the HTML, the stored files it shows (read and checked here), the attachments."""
    resources = {}
    for url in pool.resource_urls(inputs.html, files.URL_SCHEME):
        data = _read(url.partition(":")[2])
        resources[url] = (data, files.sniff(data) or "application/octet-stream")
    return pool.RenderRequest(html=inputs.html, base_url=f"{files.URL_SCHEME}:", attachments=inputs.attachments,
                              title=inputs.title, author=current_app.config["FIRM_NAME"], created=inputs.created,
                              resources=resources)


def render_dossier(inputs: DossierInputs) -> bytes:
    """Render the PDF (in the render pool when this process has one); touches no database, so callers
    end their transaction first (it takes ~1 s)."""
    return pool.render(render_request(inputs))


def save_dossier(inputs: DossierInputs, data: bytes, actor: Staff) -> Dossier:
    """Keep the rendered PDF as the customer's next version; earlier versions stay as they were."""
    stored = files.store(data, allowed={"application/pdf"}, max_bytes=200 * 1024 * 1024)
    version = (db.session.scalar(select(func.max(Dossier.version))
                                 .where(Dossier.customer_id == inputs.customer_id)) or 0) + 1
    entry = Dossier(customer_id=inputs.customer_id, version=version, archive_no=inputs.archive_no,
                    sha256=stored.sha256, size=stored.size, pages=_page_count(data),
                    record_sha256=inputs.record_sha256, generated_by_id=actor.id)
    db.session.add(entry)
    audit.record("archive.generate", "customer", inputs.archive_no, actor=actor, version=version)
    db.session.flush()
    return entry


def generate_dossier_now(customer: Customer, actor: Staff) -> Dossier:
    """Read, render and save in one go, for jobs that own their transactions (not for requests)."""
    inputs = dossier_inputs(customer)
    db.session.commit()  # hold no database lock while the PDF renders
    return save_dossier(inputs, render_dossier(inputs), actor)


_env = None


def _template_env():
    global _env
    if _env is None:
        _env = renderer.template_environment()
    return _env


def _read(sha256: str) -> bytes:
    try:
        return files.read(sha256)
    except files.StoredFileUnreadable as error:  # a dossier is never printed with a file left out
        raise renderer.DossierResourceMissing(str(error)) from error


def _page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


# --- batch export ----------------------------------------------------------------------------------

EXPORT_MAX_BYTES = 2 * 1024**3

def start_export(actor: Staff, branch_id: int, date_from: date, date_to: date, purpose: str) -> ExportJob:
    """Queue an export of a branch's dossiers for customers opened in the date range."""
    if not purpose.strip():
        raise ArchiveRefused("请填写借阅目的")
    if date_to < date_from:
        raise ArchiveRefused("结束日期不能早于开始日期")
    if not actor.sees_all_branches and branch_id != actor.branch_id:
        raise ArchiveRefused("只能导出本营业部的档案")
    job = ExportJob(requested_by_id=actor.id, branch_id=branch_id, date_from=date_from, date_to=date_to,
                    purpose=purpose.strip()[:500])
    if not export_customers(job):
        raise ArchiveRefused("该日期范围内没有本营业部新开客户的档案，无需导出")
    db.session.add(job)
    db.session.flush()
    return job


def export_customers(job: ExportJob) -> list[Customer]:
    return list(db.session.scalars(select(Customer).where(
        Customer.branch_id == job.branch_id, Customer.created_at >= beijing_day_start(job.date_from),
        Customer.created_at < beijing_day_start(job.date_to + timedelta(days=1))).order_by(Customer.id)))


def run_export(job_id: int, progress=None) -> None:
    """Build the zip: one dossier per customer (the latest, or a new one), progress committed as it goes.

    Runs as a background job (blueprints.archive.jobs), which may be taken up again after its worker
    died: a customer already entered in the register for this export is not entered again, and the
    zip is rebuilt from the start (the dossiers generated meanwhile are the latest by then). New
    dossiers render in the render pool, as many at once as it has processes, in customer order.
    """
    job = db.session.get(ExportJob, job_id, with_for_update=True)
    if job is None or job.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        db.session.rollback()
        return
    actor = db.session.get(Staff, job.requested_by_id)
    customers = export_customers(job)
    registered = set(db.session.scalars(select(LendingRecord.customer_id).where(LendingRecord.export_job_id == job.id)))
    job.status, job.total, job.done = ExportStatus.RUNNING, len(customers), 0
    if progress:
        progress(0, len(customers))
    db.session.commit()
    # The zip is encrypted as it is written: no plaintext copy on disk; memory bounded by the dossiers in flight.
    with files.writing(max_bytes=EXPORT_MAX_BYTES) as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for customer, latest in _dossiers_in_order(customers, actor, window=max(1, 2 * pool.processes())):
                with files.open_stored(latest.sha256) as source, \
                        archive.open(f"{latest.archive_no}-v{latest.version}.pdf", "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
                if customer.id not in registered:
                    register(actor, customer, LendingAction.EXPORT, job.purpose, dossier=latest, export_job=job)
                job.done += 1
                if progress:
                    progress(job.done)
                db.session.commit()
        stored = out.commit()
    job.sha256, job.size = stored.sha256, stored.size
    job.status, job.finished_at = ExportStatus.DONE, utcnow()
    db.session.commit()


def _dossiers_in_order(customers: list[Customer], actor: Staff, window: int):
    """Yield (customer, dossier) in the customers' order; the missing dossiers render `window` at a time."""
    in_flight = collections.deque()
    for customer in customers:
        latest = next(iter(dossiers_of(customer)), None)
        if latest is None:
            inputs = dossier_inputs(customer)
            request = render_request(inputs)
            db.session.commit()  # hold no lock while it renders
            in_flight.append((customer, inputs, pool.submit(request)))
        else:
            in_flight.append((customer, None, latest))
        while len(in_flight) >= window or (in_flight and in_flight[0][1] is None):
            yield _finished(in_flight.popleft(), actor)
    while in_flight:
        yield _finished(in_flight.popleft(), actor)


def _finished(entry, actor: Staff):
    customer, inputs, waiting = entry
    if inputs is None:
        return customer, waiting
    dossier = save_dossier(inputs, waiting.result(), actor)
    db.session.commit()
    return customer, dossier


def export_failed(job_id: int, message: str) -> None:
    """Record on the export that it failed, for the archivist who asked."""
    job = db.session.get(ExportJob, job_id)
    if job is not None and job.status not in (ExportStatus.DONE, ExportStatus.FAILED):
        job.status, job.error, job.finished_at = ExportStatus.FAILED, message[:500], utcnow()


# --- reading for the archive screens -------------------------------------------------------------

def may_read_file(user: Staff, customer: Customer) -> bool:
    """Archivists read any visible file; HQ administrators only a customer who is not closed.

    After closure only archivists read the file (客户资料管理: 销户后仅档案管理员可查阅).
    """
    if user.role == Role.ARCHIVIST:
        return True
    return user.role == Role.HQ_ADMIN and customer.kind not in ENDED


def may_add_scan(user: Staff, customer: Customer) -> bool:
    """Archivists add scans to any visible file; a clerk only while the customer is not closed."""
    if user.role == Role.ARCHIVIST:
        return True
    return user.role == Role.CLERK and customer.kind not in ENDED


def branch_names() -> dict[int, str]:
    return dict(db.session.execute(select(Branch.id, Branch.name)).all())


def branches_for(user: Staff) -> list[Branch]:
    """The branches `user` may pick in a filter: every one for HQ, otherwise the own branch."""
    query = select(Branch).order_by(Branch.code)
    if not user.sees_all_branches:
        query = query.where(Branch.id == user.branch_id)
    return list(db.session.scalars(query))


def register_staff(user: Staff) -> list[Staff]:
    """Staff whose lending records `user` may filter by: the own branch's, everyone's for HQ."""
    query = select(Staff).order_by(Staff.branch_id, Staff.username)
    if not user.sees_all_branches:
        query = query.where(Staff.branch_id == user.branch_id)
    return list(db.session.scalars(query))


def find_scan(user: Staff, scan_id: int) -> tuple[ArchiveScan, Customer] | None:
    """A scan with its customer, if the customer is one `user` may see."""
    visible_ids = visible_customers(user).with_only_columns(Customer.id)
    row = db.session.execute(select(ArchiveScan, Customer).join(Customer, Customer.id == ArchiveScan.customer_id)
                             .where(ArchiveScan.id == scan_id, Customer.id.in_(visible_ids))).first()
    return tuple(row) if row else None


def find_dossier(user: Staff, dossier_id: int) -> tuple[Dossier, Customer] | None:
    """A dossier version with its customer, if the customer is one `user` may see."""
    visible_ids = visible_customers(user).with_only_columns(Customer.id)
    row = db.session.execute(select(Dossier, Customer).join(Customer, Customer.id == Dossier.customer_id)
                             .where(Dossier.id == dossier_id, Customer.id.in_(visible_ids))).first()
    return tuple(row) if row else None


def find_export(user: Staff, job_id: int) -> ExportJob | None:
    """An export job, for the staff member who asked for it or for HQ."""
    job = db.session.get(ExportJob, job_id)
    if job is None or (job.requested_by_id != user.id and not user.sees_all_branches):
        return None
    return job


def exports_of(user: Staff, limit: int = 20) -> list[ExportJob]:
    return list(db.session.scalars(select(ExportJob).where(ExportJob.requested_by_id == user.id)
                                   .order_by(ExportJob.id.desc()).limit(limit)))


def panel_for(customer) -> dict:
    """The customer page's archive part: the scans and dossier versions on file (what, when; not the files)."""
    scans = list(db.session.scalars(select(ArchiveScan).where(ArchiveScan.customer_id == customer.id)
                                    .order_by(ArchiveScan.uploaded_at.desc(), ArchiveScan.id.desc())))
    dossiers = list(db.session.scalars(select(Dossier).where(Dossier.customer_id == customer.id)
                                       .order_by(Dossier.version.desc())))
    return {"archive_scans": [{"label": s.label, "uploaded_at": s.uploaded_at, "mime": s.mime} for s in scans],
            "archive_dossiers": [{"version": d.version, "archive_no": d.archive_no, "pages": d.pages,
                                  "generated_at": d.generated_at} for d in dossiers]}
