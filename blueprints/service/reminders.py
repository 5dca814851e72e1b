"""What the home page reminds each user of: follow-ups due, complaint deadlines due or overdue, handovers to review."""
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import and_, or_, select

from blueprints.auth.models import Staff
from blueprints.managers import services as managers
from blueprints.service import services
from blueprints.service.models import Complaint, ServiceRecord
from blueprints.service.rules import KIND_LABELS, ServiceStatus
from core.extensions import db

LIMIT = 20


def reminders_for(user: Staff) -> list[dict]:
    """Reminders for `user`, most pressing first: each {kind, text, href, due, overdue}."""
    if user.role not in services.SERVICE_ROLES:
        return []
    today = services.today()
    ahead = today + timedelta(days=current_app.config["REMINDER_DAYS_AHEAD"])
    manager = user.role in services.MANAGER_ROLES
    if manager:
        services.escalate_overdue(None if user.sees_all_branches else user.branch_id, today)
    found: list[dict] = []
    open_records = services.visible_records(user).where(ServiceRecord.status != ServiceStatus.CLOSED)
    for record in db_scalars(open_records.where(ServiceRecord.owner_id == user.id, ServiceRecord.follow_up_on <= ahead)
                             .order_by(ServiceRecord.follow_up_on).limit(LIMIT)):
        overdue = record.follow_up_on < today
        found.append(_item("follow_up", f"{KIND_LABELS[record.kind]}跟进 {record.reference}：{record.subject}",
                           record, record.follow_up_on, overdue,
                           ("跟进已过期" if overdue else "今日跟进" if record.follow_up_on == today else "待跟进")))
    complaints = open_records.join(Complaint, Complaint.record_id == ServiceRecord.id).where(
        or_(Complaint.resolution_due <= ahead,
            and_(Complaint.first_contacted_at.is_(None), Complaint.first_contact_due <= ahead),
            Complaint.handler_id.is_(None)))
    if not manager:
        complaints = complaints.where(ServiceRecord.owner_id == user.id)
    for record in db_scalars(complaints.order_by(Complaint.resolution_due).limit(LIMIT)):
        complaint = record.complaint
        reasons = services.overdue_reasons(record, today)
        if complaint.handler_id is None:
            text, due = "待指定处理人", complaint.first_contact_due
        elif reasons:
            text, due = "；".join(reasons) + ("（已升级至营业部负责人）" if complaint.escalated_at else ""), complaint.resolution_due
        elif complaint.first_contacted_at is None and complaint.first_contact_due <= ahead:
            text, due = f"须于 {complaint.first_contact_due} 前首次联系客户", complaint.first_contact_due
        else:
            text, due = f"须于 {complaint.resolution_due} 前办结", complaint.resolution_due
        found.append(_item("complaint", f"投诉 {record.reference}：{record.subject}", record, due, bool(reasons), text))
    if manager:
        for handover in managers.pending_for_review(user):
            found.append({"kind": "handover", "text": f"客户移交 {handover.reference} 待审核（{len(handover.items)} 户，"
                                                       f"{handover.effective_date} 生效）",
                          "href": url_for("managers.handover", reference=handover.reference),
                          "due": handover.effective_date, "overdue": False, "state": "待审核"})
    found.sort(key=lambda r: (not r["overdue"], r["due"]))
    return found[:LIMIT]


def _item(kind: str, text: str, record: ServiceRecord, due, overdue: bool, state: str) -> dict:
    return {"kind": kind, "text": text, "href": url_for("service.detail", reference=record.reference), "due": due,
            "overdue": overdue, "state": state}


def db_scalars(query) -> list:
    return list(db.session.scalars(query))
