"""Operations on service records and complaints (they flush, the request commits), their scope and deadlines."""
import os
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from blueprints.auth.services import full_names
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.service import rules
from blueprints.service.models import Complaint, ComplaintExtension, ComplaintFile, ServiceEvent, ServiceRecord
from blueprints.service.rules import Channel, ServiceKind, ServiceRefused, ServiceStatus, Urgency
from core import audit, files
from core.extensions import db
from core.idempotency import made_with
from core.roles import Role
from core.timeutil import business_today, to_beijing, utcnow

# Who records service contacts and may be given a complaint to handle.
SERVICE_ROLES = (Role.CLERK, Role.CUSTOMER_MANAGER, Role.BROKER, Role.RETURN_VISIT, Role.BRANCH_MANAGER, Role.HQ_ADMIN)
# Who assigns complaint handlers, sees the branch's complaints and receives escalations.
MANAGER_ROLES = (Role.BRANCH_MANAGER, Role.HQ_ADMIN)
FILE_TYPES = {"application/pdf", "image/jpeg", "image/png"}
EVENT_LABELS = {"record": "登记", "assign": "指定处理人", "reassign": "改派处理人", "follow_up": "跟进", "contact": "首次联系客户",
                "extend": "延期", "escalate": "超期升级至营业部负责人", "file": "上传材料", "close": "办结"}


def today() -> date:
    """The business day deadlines are read on (Beijing); one place, so tests can move it."""
    return business_today()


def _dates(setting: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(part.strip()) for part in (setting or "").split(",") if part.strip())


def calendar() -> rules.Calendar:
    """Working days from the configured holidays and weekend workdays (no built-in holiday calendar)."""
    config = current_app.config
    return rules.Calendar(holidays=_dates(config["SERVICE_HOLIDAYS"]), workdays=_dates(config["SERVICE_WORKDAYS"]))


def deadlines() -> rules.Deadlines:
    config = current_app.config
    days = {Urgency(key.strip()): int(value) for key, value in
            (pair.split(":") for pair in config["COMPLAINT_RESOLUTION_DAYS"].split(",") if pair.strip())}
    return rules.Deadlines(first_contact_working_days=config["COMPLAINT_FIRST_CONTACT_WORKING_DAYS"],
                           resolution_days=days, extension_days=config["COMPLAINT_EXTENSION_DAYS"],
                           max_extensions=config["COMPLAINT_MAX_EXTENSIONS"])


def _event(record: ServiceRecord, action: str, actor: Staff | None, note: str | None = None) -> None:
    db.session.add(ServiceEvent(record_id=record.id, action=action, actor_id=getattr(actor, "id", None),
                                note=(note or None) and note[:1000]))


def _new_reference(kind: ServiceKind) -> str:
    prefix = "TS" if kind == ServiceKind.COMPLAINT else "FW"
    stamp = to_beijing(utcnow()).strftime("%Y%m%d")
    while True:
        reference = f"{prefix}{stamp}{secrets.randbelow(10**6):06d}"
        if not db.session.scalar(select(func.count()).where(ServiceRecord.reference == reference)):
            return reference


def branch_staff(branch_id: int, roles=SERVICE_ROLES) -> list[Staff]:
    return list(db.session.scalars(select(Staff).where(Staff.branch_id == branch_id, Staff.is_enabled.is_(True),
                                                       Staff.role.in_([r.value for r in roles]))
                                   .order_by(Staff.role, Staff.full_name, Staff.id)))


def _staff_of_branch(staff_id: int | None, branch_id: int, roles=None) -> Staff | None:
    staff = db.session.get(Staff, staff_id) if staff_id else None
    if staff is None or staff.branch_id != branch_id or not staff.is_enabled:
        return None
    if roles is not None and staff.role not in roles:
        return None
    return staff


def record_contact(actor: Staff, customer: Customer, *, kind: ServiceKind, subject: str, content: str,
                   follow_up_on: date | None, outcome: str, client_token: str,
                   complaint: dict | None = None) -> ServiceRecord:
    """Record a service contact; a complaint also gets its channel, category, urgency, deadlines and first handler.

    A contact recorded with its outcome and no follow-up date is closed at once (a call that settled the question).
    """
    existing = made_with(ServiceRecord, client_token, actor.id)
    if existing is not None:
        return existing
    if follow_up_on is not None and follow_up_on < today():
        raise ServiceRefused("跟进日期不能早于今天", field="follow_up_on")
    record = ServiceRecord(reference=_new_reference(kind), client_token=client_token, customer_id=customer.id,
                           branch_id=customer.branch_id, kind=kind, status=ServiceStatus.OPEN, subject=subject[:100],
                           content=content, owner_id=actor.id, follow_up_on=follow_up_on, created_by_id=actor.id)
    details = None
    if kind == ServiceKind.COMPLAINT:
        details = _complaint_details(actor, customer, complaint or {})
        record.owner_id = details.handler_id
        record.status = ServiceStatus.IN_PROGRESS if details.handler_id else ServiceStatus.OPEN
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
            if details is not None:
                details.record_id = record.id
                db.session.add(details)
                db.session.flush()
    except IntegrityError:
        same = made_with(ServiceRecord, client_token, actor.id)
        if same is not None:
            return same
        raise
    _event(record, "record", actor, content[:200])
    if details is not None and details.handler_id:
        _event(record, "assign", actor, f"首办处理人：{db.session.get(Staff, details.handler_id).full_name}")
    audit.record("service.record", "service_record", record.reference, customer=customer.customer_no, kind=str(kind))
    if kind != ServiceKind.COMPLAINT and outcome.strip() and follow_up_on is None:
        close(record, actor, outcome=outcome)
    return record


def _complaint_details(actor: Staff, customer: Customer, values: dict) -> Complaint:
    channel = Channel(values["channel"])
    case_no = (values.get("case_no") or "").strip() or None
    if channel == Channel.CSRC_12386 and not case_no:
        raise ServiceRefused("12386转办的投诉须填写转办编号", field="case_no")
    received = values.get("received_on") or today()
    if received > today():
        raise ServiceRefused("受理日期不能晚于今天", field="received_on")
    complained = None
    if values.get("complained_staff"):
        complained = _staff_of_branch(values["complained_staff"], customer.branch_id)
        if complained is None:
            raise ServiceRefused("被投诉人员须为本营业部员工", field="complained_staff")
    handler_id = values.get("handler")
    if not handler_id and actor.role not in MANAGER_ROLES:
        # 首办负责制: whoever takes the complaint first handles it, unless they are the one complained about.
        handler_id = None if complained is not None and complained.id == actor.id else actor.id
    if handler_id:
        handler = _staff_of_branch(handler_id, customer.branch_id, SERVICE_ROLES)
        if handler is None:
            raise ServiceRefused("处理人须为本营业部在岗的服务人员", field="handler")
        refusal = rules.handler_refusal(handler_id=handler.id, complained_staff_id=getattr(complained, "id", None),
                                        current_handler_id=None)
        if refusal:
            raise ServiceRefused(refusal, field="handler")
    urgency = Urgency(values["urgency"])
    settings = deadlines()
    return Complaint(channel=channel, case_no=case_no, category=values["category"], urgency=urgency, received_on=received,
                     complained_staff_id=getattr(complained, "id", None), handler_id=handler_id or None,
                     handler_assigned_at=utcnow() if handler_id else None,
                     first_contact_due=rules.first_contact_due(received, settings, calendar()),
                     resolution_due=rules.resolution_due(received, urgency, settings))


def _open_complaint_and_handler(record: ServiceRecord, handler_id: int | None) -> tuple[Complaint, Staff | None]:
    """The record's complaint, still open, and the chosen handler if it is one of the branch's service staff."""
    complaint = _complaint_of(record)
    if record.status == ServiceStatus.CLOSED:
        raise ServiceRefused("投诉已办结。", 409)
    handler = _staff_of_branch(handler_id, record.branch_id, SERVICE_ROLES)
    if handler_id and handler is None:
        raise ServiceRefused("处理人须为本营业部在岗的服务人员", field="handler")
    return complaint, handler


def assign_handler(record: ServiceRecord, handler_id: int | None, actor: Staff) -> Staff:
    """Give a complaint its first handler (首办): never the staff member complained about, and never changed after."""
    complaint, handler = _open_complaint_and_handler(record, handler_id)
    refusal = rules.handler_refusal(handler_id=getattr(handler, "id", None),
                                    complained_staff_id=complaint.complained_staff_id,
                                    current_handler_id=complaint.handler_id)
    if refusal:
        raise ServiceRefused(refusal, 409 if complaint.handler_id else 422, field="handler")
    if complaint.handler_id == handler.id:
        return handler
    complaint.handler_id, complaint.handler_assigned_at = handler.id, utcnow()
    record.owner_id = handler.id
    rules.check_transition(record.status, ServiceStatus.IN_PROGRESS)
    record.status = ServiceStatus.IN_PROGRESS
    _event(record, "assign", actor, f"首办处理人：{handler.full_name}")
    db.session.flush()
    audit.record("complaint.assign", "service_record", record.reference, handler=handler.username)
    return handler


def reassign_handler(record: ServiceRecord, handler_id: int | None, actor: Staff, reason: str) -> Staff:
    """Move a complaint to another handler when its first handler can no longer carry it (branch manager, with a reason)."""
    complaint, handler = _open_complaint_and_handler(record, handler_id)
    refusal = rules.reassignment_refusal(handler_id=getattr(handler, "id", None),
                                         complained_staff_id=complaint.complained_staff_id,
                                         current_handler_id=complaint.handler_id, reason=reason or "")
    if refusal:
        field, message = refusal
        raise ServiceRefused(message, 409 if complaint.handler_id is None else 422, field=field)
    previous = db.session.get(Staff, complaint.handler_id)
    complaint.handler_id, complaint.handler_assigned_at = handler.id, utcnow()
    record.owner_id = handler.id
    _event(record, "reassign", actor, f"改派处理人：{previous.full_name} → {handler.full_name}；原因：{reason.strip()}")
    db.session.flush()
    audit.record("complaint.reassign", "service_record", record.reference, handler=handler.username,
                 previous=previous.username)
    return handler


def follow_up(record: ServiceRecord, actor: Staff, note: str, next_date: date | None) -> None:
    """Note a follow-up (for a complaint the first one is the first contact) and set the next follow-up date."""
    _check_owner(record, actor)
    if record.status == ServiceStatus.CLOSED:
        raise ServiceRefused("该记录已办结。", 409)
    if not note.strip():
        raise ServiceRefused("请填写跟进情况", field="note")
    if next_date is not None and next_date < today():
        raise ServiceRefused("下次跟进日期不能早于今天", field="next_date")
    complaint = record.complaint
    if complaint is not None and complaint.first_contacted_at is None:
        complaint.first_contacted_at = utcnow()
        _event(record, "contact", actor, note)
    else:
        _event(record, "follow_up", actor, note)
    record.follow_up_on = next_date
    if record.status == ServiceStatus.OPEN:
        record.status = ServiceStatus.IN_PROGRESS
    db.session.flush()
    audit.record("service.follow_up", "service_record", record.reference)


def extend(record: ServiceRecord, actor: Staff, reason: str) -> date:
    """Extend a complaint's resolution deadline by the configured days, with a reason, a bounded number of times."""
    complaint = _complaint_of(record)
    if actor.id != complaint.handler_id and actor.role not in MANAGER_ROLES:
        raise ServiceRefused("只有处理人或营业部负责人可以申请延期", 403)
    settings = deadlines()
    rules.check_extension(reason=reason, extensions_so_far=complaint.extensions, settings=settings,
                          closed=record.status == ServiceStatus.CLOSED)
    before = complaint.resolution_due
    after = max(before, today()) + timedelta(days=settings.extension_days)
    db.session.add(ComplaintExtension(complaint_id=complaint.id, reason=reason.strip()[:500], from_due=before,
                                      to_due=after, by_id=actor.id))
    complaint.resolution_due = after
    complaint.extensions += 1
    _event(record, "extend", actor, f"{before} → {after}：{reason.strip()}")
    db.session.flush()
    audit.record("complaint.extend", "service_record", record.reference, before=before.isoformat(),
                 after=after.isoformat(), reason=reason.strip()[:200])
    return after


def close(record: ServiceRecord, actor: Staff, *, outcome: str, feedback: str | None = None,
          feedback_text: str = "") -> None:
    """Close the record with its outcome; a complaint also with the customer's feedback (满意 / 不满意)."""
    _check_owner(record, actor)
    complaint = record.complaint
    missing = rules.closing_refusal(is_complaint=complaint is not None, outcome=outcome, feedback=feedback,
                                    feedback_text=feedback_text, handler_id=getattr(complaint, "handler_id", None))
    if missing:
        raise ServiceRefused(missing[1], field=missing[0])
    rules.check_transition(record.status, ServiceStatus.CLOSED)
    now = utcnow()
    record.status, record.outcome, record.closed_at, record.closed_by_id = ServiceStatus.CLOSED, outcome.strip(), now, actor.id
    record.follow_up_on = None
    if complaint is not None:
        complaint.feedback, complaint.feedback_text = feedback, feedback_text.strip() or None
        if complaint.first_contacted_at is None:
            complaint.first_contacted_at = now
    _event(record, "close", actor, outcome.strip()[:200])
    db.session.flush()
    audit.record("service.close", "service_record", record.reference, feedback=feedback)


def attach_file(record: ServiceRecord, actor: Staff, data: bytes, filename: str) -> ComplaintFile:
    """Keep a complaint file (letter, 12386 transfer form, evidence) with the complaint."""
    complaint = _complaint_of(record)
    try:
        stored = files.store(data, allowed=FILE_TYPES, max_bytes=current_app.config["MAX_SCAN_BYTES"])
    except files.FileRejected as rejected:
        raise ServiceRefused(f"{rejected}；仅接受 PDF、JPEG 或 PNG", field="file") from None
    name = os.path.basename((filename or "").replace("\\", "/"))[:200] or f"file.{files.extension_for(stored.mime)}"
    entry = ComplaintFile(complaint_id=complaint.id, sha256=stored.sha256, size=stored.size, mime=stored.mime,
                          filename=name, uploaded_by_id=actor.id)
    db.session.add(entry)
    _event(record, "file", actor, name)
    db.session.flush()
    audit.record("complaint.file", "service_record", record.reference, sha256=stored.sha256)
    return entry


def _complaint_of(record: ServiceRecord) -> Complaint:
    if record.complaint is None:
        raise ServiceRefused("该记录不是投诉。", 404)
    return record.complaint


def _check_owner(record: ServiceRecord, actor: Staff) -> None:
    if record.owner_id != actor.id:
        raise ServiceRefused("只有该记录的负责人可以办理（投诉实行首办负责制）", 403)


# --- deadlines and escalation -------------------------------------------------------------------

def overdue_reasons(record: ServiceRecord, on: date | None = None) -> list[str]:
    complaint = record.complaint
    if complaint is None:
        return []
    return rules.overdue_reasons(closed=record.status == ServiceStatus.CLOSED,
                                 first_contacted=complaint.first_contacted_at is not None,
                                 first_contact_due=complaint.first_contact_due,
                                 resolution_due=complaint.resolution_due, today=on or today())


def _overdue_condition(on: date):
    return and_(ServiceRecord.status != ServiceStatus.CLOSED,
                or_(Complaint.resolution_due < on,
                    and_(Complaint.first_contacted_at.is_(None), Complaint.first_contact_due < on)))


def escalate_overdue(branch_id: int | None = None, on: date | None = None) -> list[str]:
    """Escalate every overdue complaint not yet escalated to the branch manager; each is escalated once.

    Run on read (lists, the record, the home page) and by `flask service escalate`; the guarded update
    makes two runs at once record one escalation.
    """
    on = on or today()
    query = select(Complaint.id, ServiceRecord.id).join(ServiceRecord, ServiceRecord.id == Complaint.record_id) \
        .where(Complaint.escalated_at.is_(None), _overdue_condition(on))
    if branch_id is not None:
        query = query.where(ServiceRecord.branch_id == branch_id)
    escalated = []
    for complaint_id, record_id in db.session.execute(query).all():
        result = db.session.execute(update(Complaint).where(Complaint.id == complaint_id, Complaint.escalated_at.is_(None))
                                    .values(escalated_at=utcnow()).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            continue
        record = db.session.get(ServiceRecord, record_id)
        db.session.expire(record.complaint)
        reasons = "；".join(overdue_reasons(record, on))
        _event(record, "escalate", None, reasons)
        audit.record("complaint.escalate", "service_record", record.reference, actor_name="system", reasons=reasons)
        escalated.append(record.reference)
    db.session.flush()
    return escalated


# --- reading ------------------------------------------------------------------------------------

def _sees_branch(user: Staff) -> bool:
    return user.role in MANAGER_ROLES


def visible_records(user: Staff):
    """Records `user` may see, in the branch: those they own or recorded (a complaint's handler need not be the
    customer's manager), and the others of customers they see, complaints there only for the branch manager."""
    # A probe of each record's customer, not the list of every customer the user sees (PostgreSQL
    # built that list on every home page).
    # Correlated to the record only: a query that joins the customer too keeps its own in the probe.
    of_visible_customers = customer_services.visible(user).with_only_columns(Customer.id).where(
        Customer.id == ServiceRecord.customer_id).correlate(ServiceRecord).exists()
    if not _sees_branch(user):
        of_visible_customers = and_(of_visible_customers, ServiceRecord.kind != ServiceKind.COMPLAINT)
    query = select(ServiceRecord).where(or_(ServiceRecord.owner_id == user.id, ServiceRecord.created_by_id == user.id,
                                            of_visible_customers))
    if not user.sees_all_branches:
        query = query.where(ServiceRecord.branch_id == user.branch_id)
    return query


def sees_customer(user: Staff, customer: Customer) -> bool:
    return customer_services.find_visible(user, customer.customer_no) is not None


def find(user: Staff, reference: str) -> ServiceRecord | None:
    return db.session.scalar(visible_records(user).where(ServiceRecord.reference == reference))


def of_customer(user: Staff, customer: Customer) -> list[ServiceRecord]:
    return list(db.session.scalars(visible_records(user).where(ServiceRecord.customer_id == customer.id)
                                   .order_by(ServiceRecord.created_at.desc(), ServiceRecord.id.desc())))


LIST_LIMIT = 100


def listing(user: Staff, *, scope: str, kind: str | None, status: str | None, overdue: bool) -> list[ServiceRecord]:
    """The records of a list: mine (owned), or the branch's for the branch manager; newest first."""
    query = visible_records(user)
    if scope == "mine" or not _sees_branch(user):
        query = query.where(ServiceRecord.owner_id == user.id)
    if kind:
        query = query.where(ServiceRecord.kind == kind)
    if status == "open":
        query = query.where(ServiceRecord.status != ServiceStatus.CLOSED)
    elif status:
        query = query.where(ServiceRecord.status == status)
    if overdue:
        query = query.join(Complaint, Complaint.record_id == ServiceRecord.id).where(_overdue_condition(today()))
    return list(db.session.scalars(query.order_by(ServiceRecord.created_at.desc(), ServiceRecord.id.desc())
                                   .limit(LIST_LIMIT)))


def events_of(record: ServiceRecord) -> list[ServiceEvent]:
    return list(db.session.scalars(select(ServiceEvent).where(ServiceEvent.record_id == record.id)
                                   .order_by(ServiceEvent.at, ServiceEvent.id)))


def extensions_of(record: ServiceRecord) -> list[ComplaintExtension]:
    if record.complaint is None:
        return []
    return list(db.session.scalars(select(ComplaintExtension).where(ComplaintExtension.complaint_id == record.complaint.id)
                                   .order_by(ComplaintExtension.id)))


def files_of(record: ServiceRecord) -> list[ComplaintFile]:
    if record.complaint is None:
        return []
    return list(db.session.scalars(select(ComplaintFile).where(ComplaintFile.complaint_id == record.complaint.id)
                                   .order_by(ComplaintFile.id)))


def file_of(record: ServiceRecord, file_id: int) -> ComplaintFile | None:
    if record.complaint is None:
        return None
    return db.session.scalar(select(ComplaintFile).where(ComplaintFile.id == file_id,
                                                         ComplaintFile.complaint_id == record.complaint.id))


def staff_names(ids) -> dict[int, str]:
    return full_names(ids)
