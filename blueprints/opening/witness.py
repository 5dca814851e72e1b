"""Witness opening rules (见证开户, 第十七条): who may meet the customer and who may witness."""
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class StaffFacts:
    """What the rules need to know about one staff member."""

    staff_id: int
    name: str
    qualification_no: str | None
    is_regular_employee: bool
    is_marketing: bool
    witness_trained_on: date | None


def witness_problems(person: StaffFacts, today: date) -> list[str]:
    """Why `person` may not act as the witness (开户见证人员); empty when they may."""
    problems = []
    if not person.qualification_no:
        problems.append(f"{person.name}未登记证券从业资格")
    if not person.is_regular_employee:
        problems.append(f"{person.name}不是公司正式员工")
    if person.is_marketing:
        problems.append(f"{person.name}为营销人员，不得担任见证人")
    if person.witness_trained_on is None or person.witness_trained_on > today:
        problems.append(f"{person.name}尚未通过开户见证培训")
    return problems


def check_witnessing(present: list[StaffFacts], witness: StaffFacts | None, remote: bool,
                     video_reference: str | None, today: date) -> dict[str, str]:
    """Errors by form field; empty when the meeting satisfies 第十七条.

    Either two or more staff meet the customer and the witness is one of them, or one
    staff member meets the customer and the witness joins by real-time remote video.
    """
    errors: dict[str, str] = {}
    if not present:
        return {"present": "请选择面见客户的工作人员"}
    unqualified = [p.name for p in present if not p.qualification_no]
    if unqualified:
        errors["present"] = f"从事见证的工作人员须具有证券从业资格：{'、'.join(unqualified)}未登记（第十七条）"
    if witness is None:
        errors["witness"] = "请指定开户见证人员"
        return errors
    if remote:
        if len(present) != 1:
            errors["present"] = "远程视频见证时，面见客户的工作人员应为一人"
        elif witness.staff_id == present[0].staff_id:
            errors["witness"] = "远程视频见证人不能是面见客户的同一人"
        if not (video_reference or "").strip():
            errors["video_reference"] = "远程视频见证须登记视频会话编号"
    else:
        if len(present) < 2:
            errors["present"] = "仅一名工作人员面见客户时，须由开户见证人员以远程实时视频方式共同见证（第十七条）"
        elif witness.staff_id not in {p.staff_id for p in present}:
            errors["witness"] = "现场见证时，开户见证人员须是面见客户的工作人员之一"
    problems = witness_problems(witness, today)
    if problems:
        errors["witness"] = "；".join(problems) + "（第十七条）"
    return errors
