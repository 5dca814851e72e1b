"""Reading the dictionaries (labels for records, options for forms) and keeping them (HQ administrators)."""
import re
from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blueprints.auth.models import Staff
from blueprints.dictionaries import defaults
from blueprints.dictionaries.models import DictionaryEntry
from core import audit
from core.extensions import db
from core.timeutil import utcnow

KINDS = defaults.KINDS
CODE = re.compile(r"[A-Za-z0-9_]{1,32}")
DISABLED_MARK = "（已停用）"


class DictionaryRefused(Exception):
    """The entry cannot be saved; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def entries(kind: str) -> list[DictionaryEntry]:
    """Every entry of `kind`, enabled or not, in list order; read once per request."""
    cache = g.setdefault("dictionary_entries", {}) if has_request_context() else {}
    if kind not in cache:
        cache[kind] = list(db.session.scalars(select(DictionaryEntry).where(DictionaryEntry.kind == kind)
                                              .order_by(DictionaryEntry.position, DictionaryEntry.id)))
    return cache[kind]


def _forget() -> None:
    if has_request_context():
        g.pop("dictionary_entries", None)


def labels(kind: str) -> dict[str, str]:
    """code → label for every entry, disabled ones included: what old records are shown with."""
    return {entry.code: entry.label for entry in entries(kind)}


def label(kind: str, code: str | None, default: str = "—") -> str:
    if not code:
        return default
    return labels(kind).get(code, code)


def enabled_codes(kind: str) -> set[str]:
    return {entry.code for entry in entries(kind) if entry.enabled}


def options(kind: str, keep: str | None = None) -> list[tuple[str, str]]:
    """(code, label) of the enabled entries in order; `keep` (a record's current value) stays offered if disabled."""
    offered = [(entry.code, entry.label) for entry in entries(kind) if entry.enabled]
    if keep and keep not in {code for code, _ in offered}:
        found = next((entry for entry in entries(kind) if entry.code == keep), None)
        if found is not None:
            offered.append((found.code, found.label + DISABLED_MARK))
    return offered


def find(entry_id: int) -> DictionaryEntry | None:
    return db.session.get(DictionaryEntry, entry_id)


@dataclass(frozen=True)
class EntryValues:
    code: str
    label: str
    position: int
    enabled: bool


def _check_label(values: EntryValues) -> str:
    text = (values.label or "").strip()
    if not text:
        raise DictionaryRefused("请填写中文名称", "label")
    if len(text) > 60:
        raise DictionaryRefused("中文名称不超过60个字符", "label")
    return text


def create(kind: str, values: EntryValues, actor: Staff) -> DictionaryEntry:
    """Add an entry; its code is unique in the dictionary and never changes afterwards."""
    if kind not in KINDS:
        raise DictionaryRefused("没有这个字典", "code")
    code = (values.code or "").strip()
    if not CODE.fullmatch(code):
        raise DictionaryRefused("代码为1–32位字母、数字或下划线", "code")
    text = _check_label(values)
    if db.session.scalar(select(DictionaryEntry.id).where(DictionaryEntry.kind == kind, DictionaryEntry.code == code)):
        raise DictionaryRefused(f"代码 {code} 已存在（含已停用的项），代码不能重复使用", "code")
    entry = DictionaryEntry(kind=kind, code=code, label=text, position=values.position, enabled=values.enabled,
                            updated_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        raise DictionaryRefused(f"代码 {code} 已存在，代码不能重复使用", "code") from None
    audit.record("dictionary.create", "dictionary_entry", f"{kind}:{code}", label=text, position=values.position,
                 enabled=values.enabled)
    _forget()
    return entry


def update(entry: DictionaryEntry, values: EntryValues, actor: Staff) -> bool:
    """Change an entry's label, order or state (its code stays); return whether anything changed."""
    text = _check_label(values)
    before = {"label": entry.label, "position": entry.position, "enabled": entry.enabled}
    after = {"label": text, "position": values.position, "enabled": values.enabled}
    changed = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if not changed:
        return False
    entry.label, entry.position, entry.enabled = text, values.position, values.enabled
    entry.updated_at, entry.updated_by_id = utcnow(), actor.id
    audit.record("dictionary.update", "dictionary_entry", f"{entry.kind}:{entry.code}", changed=changed)
    _forget()
    return True


def seed_defaults() -> int:
    """Add the starting entries that are missing (the migration adds them too); return how many."""
    added = 0
    for kind, values in defaults.entries().items():
        have = set(db.session.scalars(select(DictionaryEntry.code).where(DictionaryEntry.kind == kind)))
        for position, (code, text) in enumerate(values.items(), start=1):
            if code not in have:
                db.session.add(DictionaryEntry(kind=kind, code=code, label=text, position=position * 10))
                added += 1
    db.session.flush()
    _forget()
    return added
