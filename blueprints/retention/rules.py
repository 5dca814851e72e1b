"""When a closed customer's records may go: the retention periods by record kind, and legal holds. No Flask, no database.

The periods count from the end of the relationship: the day the customer's last account was closed
(Customer.closed_at). A customer who is not closed, or who opened again, has no due date at all.

- opening documents and agreements: at least 20 years (证券法 第一百三十七条; 证券公司客户资料管理规范);
- suitability records and their recordings (return visits included): at least 20 years (适当性管理办法 第三十二条);
- identity data: at least 5 years after the relationship ends (反洗钱: 金融机构客户身份识别和客户身份资料及交易
  记录保存管理办法) — shorter, but the same identity data is part of the opening documents, which rule;
- complaints and service records: kept with the file (no shorter period is known), 20 years.

A customer's file goes as one: its due date is the latest of its kinds'. A legal hold (法律保全: litigation, an
investigation, a regulator's request) blocks the purge whatever the date, until lifted.
"""
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class RecordKind(StrEnum):
    OPENING = "opening"
    SUITABILITY = "suitability"
    IDENTITY = "identity"
    SERVICE = "service"


# Years after the end of the relationship, by kind, with the rule that sets them.
RETENTION_YEARS: dict[RecordKind, tuple[int, str]] = {
    RecordKind.OPENING: (20, "证券法 第一百三十七条"),
    RecordKind.SUITABILITY: (20, "适当性管理办法 第三十二条"),
    RecordKind.IDENTITY: (5, "反洗钱 客户身份资料保存"),
    RecordKind.SERVICE: (20, "证券公司客户资料管理规范"),
}
ALL_KINDS = frozenset(RecordKind)
# The longest term of a whole file: what it is kept at least, counted from closure.
FILE_YEARS = max(years for years, _rule in RETENTION_YEARS.values())


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March, never a day early."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def due_date(closed_on: date, kinds=ALL_KINDS) -> date:
    """The first day the records of these kinds, for a relationship that ended on `closed_on`, may go."""
    return max(add_years(closed_on, RETENTION_YEARS[RecordKind(kind)][0]) for kind in kinds)


@dataclass(frozen=True)
class Decision:
    purge: bool
    reason: str  # Chinese, for the report
    due_on: date | None = None


def decide(closed_on: date | None, kind: str, on_hold: bool, hold_reason: str | None, cutoff: date,
           kinds=ALL_KINDS) -> Decision:
    """Whether a customer's file may be purged now, by a run whose cutoff (--before) is `cutoff`.

    `kind` is the customer's lifecycle state: only a closed (historical) customer has a due date.
    The file may go when its due date is on or before the cutoff and no legal hold stands.
    """
    if kind == "merged":
        return Decision(False, "已合并的客户记录随存续客户的档案保管")
    if kind != "historical" or closed_on is None:
        return Decision(False, "客户未销户，保管期限尚未开始计算")
    due = due_date(closed_on, kinds)
    if on_hold:
        return Decision(False, f"法律保全中：{hold_reason or '未说明理由'}", due)
    if due > cutoff:
        return Decision(False, f"保管期限未满（销户日 {closed_on.isoformat()}，保管至 {due.isoformat()}）", due)
    return Decision(True, f"保管期限已满（销户日 {closed_on.isoformat()}，期满日 {due.isoformat()}）", due)
