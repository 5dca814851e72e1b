"""Rules for changes to customer information: which fields a change touches and what may go together."""
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable

from blueprints.opening.rules import eighteen_digit_form, normalize_id_number
from core.reference import IdType

# The three elements (三要素) China Clearing knows a person by.
KEY_FIELDS = ("name", "id_type", "id_number")
VALIDITY_FIELDS = ("id_valid_from", "id_valid_to")
ORDINARY_FIELDS = ("mobile", "email", "address", "postcode", "occupation", "education", "employer",
                   "tax_residency", "tax_country", "tax_id")

FIELD_LABELS = {
    "name": "姓名",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "id_valid_from": "证件有效期起始日期",
    "id_valid_to": "证件有效期截止日期",
    "mobile": "手机号码",
    "email": "电子邮箱",
    "address": "联系地址",
    "postcode": "邮政编码",
    "occupation": "职业",
    "education": "学历",
    "employer": "工作单位",
    "tax_residency": "税收居民身份",
    "tax_country": "税收居民国（地区）",
    "tax_id": "纳税人识别号",
}


class ChangeKind(StrEnum):
    ORDINARY = "ordinary"
    KEY = "key"
    RENEWAL = "renewal"  # a new validity period of the same document: a key-information business
    UPGRADE = "upgrade"
    LINK_CONFIRMATION = "link_confirmation"


CHANGE_KIND_LABELS = {
    ChangeKind.ORDINARY: "普通资料变更",
    ChangeKind.KEY: "关键信息变更",
    ChangeKind.RENEWAL: "证件有效期更新",
    ChangeKind.UPGRADE: "15位身份证号码升位",
    ChangeKind.LINK_CONFIRMATION: "关联关系确认",
}


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: Any
    after: Any


def _blank_is_none(value):
    return None if value == "" else value


def diff(before: dict, after: dict, fields: Iterable[str]) -> list[FieldChange]:
    """The fields among `fields` whose value differs, in the order given; None and "" are equal."""
    changes = []
    for field in fields:
        old, new = _blank_is_none(before.get(field)), _blank_is_none(after.get(field))
        if old != new:
            changes.append(FieldChange(field, FIELD_LABELS.get(field, field), old, new))
    return changes


def check_key_change(before: dict, after: dict) -> list[str]:
    """What stops `after` from being submitted as one key-information change of `before`.

    A key change may bring the new document's validity period with it; ordinary fields are a
    business of their own, and name and ID number never change in the same transaction.
    """
    errors = []
    changed = {change.field for change in diff(before, after, KEY_FIELDS)}
    if not changed:
        errors.append("未修改任何关键信息")
    if {"name", "id_number"} <= changed:
        errors.append("姓名与证件号码不能在同一笔业务中变更，请分两笔办理")
    ordinary = diff(before, after, ORDINARY_FIELDS)
    if ordinary:
        labels = "、".join(change.label for change in ordinary)
        errors.append(f"关键信息变更中不能同时修改普通资料（{labels}），请另行办理普通资料变更")
    return errors


def is_id_upgrade(old_number: str, new_number: str) -> bool:
    """Whether `new_number` is the 18-digit form of the valid 15-digit resident ID `old_number`."""
    upgraded = eighteen_digit_form(old_number or "")
    return upgraded is not None and upgraded == normalize_id_number(IdType.RESIDENT_ID, new_number or "")


def kind_of(before: dict, after: dict) -> ChangeKind | None:
    """The business that takes `before` to `after`, judged by the fields it touches; None when nothing changes."""
    key = {change.field for change in diff(before, after, KEY_FIELDS)}
    if key == {"id_number"} and is_id_upgrade(before.get("id_number"), after.get("id_number")):
        return ChangeKind.UPGRADE
    if key:
        return ChangeKind.KEY
    if diff(before, after, VALIDITY_FIELDS):
        return ChangeKind.RENEWAL
    if diff(before, after, ORDINARY_FIELDS):
        return ChangeKind.ORDINARY
    return None
