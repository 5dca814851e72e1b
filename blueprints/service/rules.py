"""Pure rules of service records and complaints: kinds, states, deadlines, extensions, who may handle."""
import enum
from dataclasses import dataclass
from datetime import date, timedelta


class ServiceKind(enum.StrEnum):
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    VISIT = "visit"
    CALL = "call"


KIND_LABELS = {ServiceKind.CONSULTATION: "咨询", ServiceKind.COMPLAINT: "投诉", ServiceKind.SUGGESTION: "建议",
               ServiceKind.VISIT: "拜访", ServiceKind.CALL: "电话"}


class ServiceStatus(enum.StrEnum):
    OPEN = "open"                # 待处理 (a complaint: awaiting its handler)
    IN_PROGRESS = "in_progress"  # 处理中
    CLOSED = "closed"            # 已办结


STATUS_LABELS = {ServiceStatus.OPEN: "待处理", ServiceStatus.IN_PROGRESS: "处理中", ServiceStatus.CLOSED: "已办结"}

# The one table of allowed moves of a service record.
TRANSITIONS = {
    ServiceStatus.OPEN: frozenset({ServiceStatus.IN_PROGRESS, ServiceStatus.CLOSED}),
    ServiceStatus.IN_PROGRESS: frozenset({ServiceStatus.CLOSED}),
    ServiceStatus.CLOSED: frozenset(),
}


class Channel(enum.StrEnum):
    COUNTER = "counter"
    PHONE = "phone"
    LETTER = "letter"
    CSRC_12386 = "csrc_12386"


CHANNEL_LABELS = {Channel.COUNTER: "柜台", Channel.PHONE: "电话", Channel.LETTER: "信函",
                  Channel.CSRC_12386: "12386转办"}


# Business lines (业务条线) a complaint is filed under: a dictionary administrators keep
# (dictionaries kind CATEGORY_DICTIONARY), starting from core.choices.COMPLAINT_CATEGORIES.
CATEGORY_DICTIONARY = "complaint_category"


class Urgency(enum.StrEnum):
    """Importance and urgency of a complaint, in the style of T/SAC 001—2024 (一般 / 重要 / 紧急)."""

    GENERAL = "general"
    IMPORTANT = "important"
    URGENT = "urgent"


URGENCY_LABELS = {Urgency.GENERAL: "一般", Urgency.IMPORTANT: "重要", Urgency.URGENT: "紧急"}

FEEDBACK_LABELS = {"satisfied": "满意", "not_satisfied": "不满意"}


class ServiceRefused(Exception):
    """A service step that is not allowed; `field` names the form field the message belongs to."""

    def __init__(self, message: str, status: int = 422, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


def check_transition(current: str, target: ServiceStatus) -> None:
    if target not in TRANSITIONS[ServiceStatus(current)]:
        raise ServiceRefused(f"该记录当前为「{STATUS_LABELS[ServiceStatus(current)]}」，不能再办理。", 409)


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday to Friday, less the configured holidays, plus the configured weekend workdays (调休)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The day `count` working days after `start` (0: `start` itself if a working day, else the next one)."""
        day = start
        if count == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day


@dataclass(frozen=True)
class Deadlines:
    """The complaint deadline settings (no official day count is known: these are the firm's own)."""

    first_contact_working_days: int
    resolution_days: dict  # {Urgency: calendar days}
    extension_days: int
    max_extensions: int


def first_contact_due(received: date, settings: Deadlines, calendar: Calendar) -> date:
    return calendar.add_working_days(received, settings.first_contact_working_days)


def resolution_due(received: date, urgency: Urgency, settings: Deadlines) -> date:
    return received + timedelta(days=settings.resolution_days[Urgency(urgency)])


def overdue_reasons(*, closed: bool, first_contacted: bool, first_contact_due: date, resolution_due: date,
                    today: date) -> list[str]:
    """Why an open complaint is overdue today (empty: it is not)."""
    if closed:
        return []
    reasons = []
    if not first_contacted and today > first_contact_due:
        reasons.append(f"首次联系客户已超期（应于 {first_contact_due} 前）")
    if today > resolution_due:
        reasons.append(f"办结已超期（应于 {resolution_due} 前）")
    return reasons


def check_extension(*, reason: str, extensions_so_far: int, settings: Deadlines, closed: bool) -> None:
    """An extension (延期) needs a reason and is granted a bounded number of times."""
    if closed:
        raise ServiceRefused("投诉已办结，不能延期。", 409)
    if not reason.strip():
        raise ServiceRefused("延期须填写原因", field="reason")
    if extensions_so_far >= settings.max_extensions:
        raise ServiceRefused(f"延期已达上限（{settings.max_extensions} 次），不能再延期。", 409, field="reason")


def handler_refusal(*, handler_id: int | None, complained_staff_id: int | None, current_handler_id: int | None) -> str | None:
    """Why this staff member may not handle the complaint: 回避 (the complained-about) and 首办负责制 (first handler owns it)."""
    if handler_id is None:
        return "请选择处理人"
    if complained_staff_id is not None and handler_id == complained_staff_id:
        return "被投诉人员须回避，不能担任本投诉的处理人"
    if current_handler_id is not None and current_handler_id != handler_id:
        return "首办负责制：本投诉已有首办处理人，由其负责到底，不能改派"
    return None


def reassignment_refusal(*, handler_id: int | None, complained_staff_id: int | None, current_handler_id: int | None,
                         reason: str) -> tuple[str, str] | None:
    """(field, message) of why the branch manager may not move a complaint to this handler, or None.

    首办负责制 keeps a complaint with its first handler; only when that person can no longer carry it
    (left the post, long leave, moved branch) does the branch manager move it, with the reason on record.
    """
    if current_handler_id is None:
        return "handler", "本投诉尚未指定首办处理人，请先指定"
    if handler_id is None:
        return "handler", "请选择新的处理人"
    if handler_id == current_handler_id:
        return "handler", "新的处理人与现处理人相同"
    if complained_staff_id is not None and handler_id == complained_staff_id:
        return "handler", "被投诉人员须回避，不能担任本投诉的处理人"
    if not reason.strip():
        return "reason", "请填写改派原因（如处理人离岗、调岗、长期休假）"
    return None


def closing_refusal(*, is_complaint: bool, outcome: str, feedback: str | None, feedback_text: str,
                    handler_id: int | None) -> tuple[str, str] | None:
    """(field, message) of what is missing to close the record, or None."""
    if not outcome.strip():
        return "outcome", "请填写处理结果"
    if not is_complaint:
        return None
    if handler_id is None:
        return "outcome", "投诉尚未指定处理人，不能办结"
    if feedback not in FEEDBACK_LABELS:
        return "feedback", "请记录客户对处理结果的评价（满意 / 不满意）"
    if feedback == "not_satisfied" and not feedback_text.strip():
        return "feedback_text", "客户不满意时须记录客户的意见"
    return None
