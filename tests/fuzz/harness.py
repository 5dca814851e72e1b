"""What the form fuzzing needs: the app's writing routes, the fields of their forms, hostile values, the database's state."""
import hashlib
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text

from core.extensions import db

WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Rows a refused request writes on purpose (core.db.keep_refusal) or that are written outside the
# request's transaction; a 4xx may change these and nothing else.
#   audit_event: every refusal is audited (a failed login, a refused reader post, a denied access).
#   staff_session: the session's row keeps its CSRF token, flashes and last-seen time whatever the answer.
#   request_counter: rate limits count refused requests (core.ratelimit), in their own transaction.
KEPT_ON_ANY_REFUSAL = frozenset({"audit_event", "staff_session", "request_counter"})
KEPT_ON_REFUSAL = {
    # A failed login is counted on the staff member, and the lockout it may bring (blueprints/auth).
    "auth.login": frozenset({"staff", "login_throttle"}),
    # A wrong password typed for one's own action counts towards that account's throttle (blueprints/auth).
    "staff_admin.edit": frozenset({"staff", "login_throttle"}),
    "staff_admin.change_password": frozenset({"staff", "login_throttle"}),
    # The documents step keeps the scans that passed their checks although another one failed, so the
    # clerk does not scan them again (blueprints/opening/steps.py::_save_documents).
    # (and the application's updated time that records them).
    "opening.step": frozenset({"application_document", "application"}),
}
# Files a refused post keeps on purpose in the (content-addressed, encrypted) store, with no row yet:
FILES_KEPT_ON_REFUSAL = {
    # the scans above;
    "opening.step",
    # a key change's certificate, which the page carries back as a signed reference (certificate_ref)
    # so the clerk corrects a field without uploading the certificate again (blueprints/changes/routes.py).
    "changes.key",
}

# Hypothesis: few examples per route (many routes), no example database in the repository, and the same
# examples on every run (derandomize) so that a red CI run is the same red run on a developer's machine.
# FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 explores further from a fresh seed (then print_blob gives the repro).
import os  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM, print_blob=RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# ---------------------------------------------------------------- routes

def writing_rules(app) -> list:
    """Every URL rule that answers POST, PUT, PATCH or DELETE."""
    return sorted((rule for rule in app.url_map.iter_rules() if rule.methods & WRITING_METHODS),
                  key=lambda rule: rule.rule)


def allowed_roles(app, endpoint: str) -> frozenset | None:
    """The roles core.security.roles_required admits to the view; None for a view without the check."""
    return getattr(app.view_functions[endpoint], "allowed_roles", None)


# ---------------------------------------------------------------- forms on a page

@dataclass
class Field:
    name: str
    kind: str  # text, textarea, select, checkbox, radio, hidden, file, submit, number, date, password
    values: list[str] = field(default_factory=list)  # what the page offers: the value, options, choices
    default: str | None = None  # what a browser would send untouched
    multiple: bool = False


class _Forms(HTMLParser):
    """The forms of a page, keyed by where they post (action, hx-post)."""

    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[tuple[set[str], dict[str, Field]]] = []
        self._current: dict[str, Field] | None = None
        self._select: Field | None = None
        self._option_value: str | None = None
        self._textarea: Field | None = None

    def _field(self, name, kind, multiple=False) -> Field:
        fields = self._current
        if name not in fields:
            fields[name] = Field(name, kind, multiple=multiple)
        return fields[name]

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            targets = {urlsplit(a[k]).path for k in ("action", "hx-post") if a.get(k)}
            if not a.get("action") and not a.get("hx-post"):
                targets.add(self.page_path)
            self._current = {}
            self.forms.append((targets, self._current))
            return
        if self._current is None:
            return
        for k in ("formaction", "hx-post"):
            if tag in ("button", "input") and a.get(k):
                self.forms[-1][0].add(urlsplit(a[k]).path)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            f = self._field(name, kind)
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            f.values.append(value)
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    f.default = value
            elif kind not in ("submit", "file"):
                f.default = value
        elif tag == "button" and name:
            f = self._field(name, "submit")
            f.values.append(a.get("value", ""))
        elif tag == "select" and name:
            self._select = self._field(name, "select", multiple="multiple" in a)
        elif tag == "option" and self._select is not None:
            value = a.get("value")
            self._option_value = value
            if value is not None:
                self._select.values.append(value)
                if "selected" in a or self._select.default is None:
                    self._select.default = value
        elif tag == "textarea" and name:
            self._textarea = self._field(name, "textarea")
            self._textarea.default = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.default = (self._textarea.default or "") + data
        if self._select is not None and self._option_value is None and data.strip():
            self._select.values.append(data.strip())  # <option> without value sends its text
            self._select.default = self._select.default or data.strip()
            self._option_value = data.strip()

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "option":
            self._option_value = None
        elif tag == "textarea":
            self._textarea = None


def forms_posting_to(html: str, page_path: str, post_path: str) -> dict[str, Field]:
    """The fields of every form on the page that posts to post_path, merged."""
    parser = _Forms(page_path)
    parser.feed(html)
    parser.close()
    merged: dict[str, Field] = {}
    for targets, fields in parser.forms:
        if post_path in targets:
            for name, f in fields.items():
                if name in merged:
                    merged[name].values.extend(v for v in f.values if v not in merged[name].values)
                    merged[name].default = merged[name].default or f.default
                else:
                    merged[name] = Field(f.name, f.kind, list(f.values), f.default, f.multiple)
    return merged


# ---------------------------------------------------------------- hostile values

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
RARE_CJK = st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF)  # extension B: 𠀀 (four UTF-8 bytes)
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(["\x7f", "\u0085", "\u2028", "\u202e", "\ufeff", "\u200b"])
# Every code point a browser can send in a form: anything but the lone surrogates UTF-8 cannot carry.
ANY_CHAR = st.characters(exclude_categories=("Cs",))
TEXT = st.text(CJK | RARE_CJK | CONTROL | ANY_CHAR | st.sampled_from(list("0123456789Xx-_ /.:")), max_size=40)
NUMBERS = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["0", "-1", "-0", "1e309", "NaN", "inf", "-inf", "0x10", "１２３", "٣", "1.5", "1,000",
                     "2147483648", "9223372036854775808", "-9223372036854775809", "00000000000000000001"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
DATES = st.one_of(
    st.sampled_from(["2026-02-30", "2026-13-01", "0000-00-00", "0001-01-01", "9999-12-31", "1900-01-01",
                     "2026/12/04", "20261204", "2026-12-04T25:61", "12/04/2026", "2026-1-1", "+275760-09-13",
                     "-0001-01-01", "2026-12-04\x00", "二〇二六年十二月四日", "1970-01-01", "2100-02-29"]),
    st.dates().map(lambda d: d.isoformat()),
)
SPECIAL = st.sampled_from(["", " ", "\x00", "null", "None", "undefined", "true", "[]", "{}", "' OR 1=1 --",
                           "<script>alert(1)</script>", "%00", "../../etc/passwd", "{{7*7}}", "\\", "\ud7ff",
                           "\U0010ffff", "長期", "长期", "　", "\r\n", "X" * 300])
LONG = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "中", "𠀀", "9", "\x00", " "]),
                 st.sampled_from([65, 129, 256, 1025, 5000, 70000]))
HOSTILE = st.one_of(TEXT, NUMBERS, DATES, SPECIAL, LONG)

EXTRA_NAMES = st.sampled_from(["id", "customer_id", "branch_id", "status", "role", "created_by_id", "is_admin",
                               "actor_id", "version", "reference", "__proto__", "", "a" * 200, "字段", "x[]"])

MODES = st.sampled_from(["hostile", "hostile", "empty", "missing", "duplicate", "wrong", "option"])


def file_upload():
    """A file part: random bytes, a real PNG or PDF header with junk after it, a lying name and type."""
    content = st.one_of(
        st.binary(max_size=2048),
        st.just(b""),
        st.binary(max_size=256).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=256).map(lambda b: b"%PDF-1.7\n" + b),
        st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff\xe0" + b),
        st.just(b"PK\x03\x04" + b"\x00" * 100),  # an empty-ish zip (xlsx)
        st.just("客户编号,证券代码\nC0101000001,600000\n".encode("gbk")),
    )
    name = st.one_of(st.sampled_from(["scan.png", "scan.jpg", "slip.pdf", "a.exe", "", "..", "../x.png",
                                      "名字.pdf", "x.PNG", "noext", "a.csv", "a.xlsx", "a\x00.png", "a" * 300 + ".pdf"]),
                     TEXT)
    mime = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "application/octet-stream",
                            "text/plain", "text/csv", "", "image/svg+xml"])
    return st.tuples(content, name, mime)


def known_good(f: Field) -> str | None:
    """What a browser would send untouched, or the first thing the page offers."""
    if f.default is not None:
        return f.default
    return f.values[0] if f.values else None


@st.composite
def form_data(draw, fields: dict[str, Field]):
    """A multipart body for the form: each field kept, mangled, doubled or left out; a few made up."""
    data: list[tuple[str, object]] = []
    # A few fields mangled, the rest as the page gives them: each field's own checks are reached, and
    # posts that pass them (and must save whole records) are among the examples.
    names = sorted(name for name in fields if name != "csrf_token")
    mangled = draw(st.sets(st.sampled_from(names), max_size=min(4, len(names)))) if names else set()
    for f in fields.values():
        if f.name == "csrf_token":
            data.append((f.name, f.default or ""))
            continue
        mode = draw(MODES) if f.name in mangled else "keep"
        good = known_good(f)
        if f.kind == "file":
            if mode in ("missing",):
                continue
            for _ in range(2 if mode == "duplicate" else 1):
                content, name, mime = draw(file_upload())
                data.append((f.name, (io.BytesIO(content), name, mime)))
            continue
        if mode == "keep":
            if f.kind in ("checkbox", "radio", "submit"):
                choice = f.default if f.default is not None else draw(st.sampled_from(f.values + [None]))
                if choice is not None:
                    data.append((f.name, choice))
            elif good is not None:
                data.append((f.name, good))
        elif mode == "option" and f.values:
            picks = draw(st.lists(st.sampled_from(f.values), min_size=1, max_size=3 if f.multiple or f.kind == "checkbox" else 1))
            data.extend((f.name, v) for v in picks)
        elif mode == "empty":
            data.append((f.name, ""))
        elif mode == "missing":
            pass
        elif mode == "duplicate":
            data.append((f.name, good or ""))
            data.append((f.name, draw(HOSTILE)))
        elif mode == "wrong":
            content, name, mime = draw(file_upload())  # a file where text is expected
            data.append((f.name, (io.BytesIO(content), name, mime)))
        else:
            data.append((f.name, draw(HOSTILE)))
    for name, value in draw(st.lists(st.tuples(EXTRA_NAMES, HOSTILE), max_size=2)):
        data.append((name, value))
    return data


def as_multidict(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


def has_files(pairs) -> bool:
    return any(isinstance(v, tuple) for _k, v in pairs)


# ---------------------------------------------------------------- the database

def table_names() -> list[str]:
    return [t.name for t in db.metadata.sorted_tables]


def fingerprint(exclude: frozenset = frozenset()) -> dict[str, str]:
    """A digest of every row of every table but `exclude`, table by table (call in an app context)."""
    digests = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in exclude:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).all()
            digests[table.name] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    return digests


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def row_counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(db.func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables}


# A record saved whole has all its parts: these queries list the ids of records missing one
# (a customer without its current profile version, a business without the status change that put it in its state).
INCOMPLETE_RECORDS = {
    "customer without its current profile version": """
        SELECT c.id FROM customer c WHERE NOT EXISTS (
            SELECT 1 FROM customer_profile p WHERE p.customer_id = c.id AND p.version = c.profile_version)""",
    "complaint recorded without its complaint": """
        SELECT r.id FROM service_record r WHERE r.kind = 'complaint'
        AND NOT EXISTS (SELECT 1 FROM complaint c WHERE c.record_id = r.id)""",
    "application whose status is not its last status change's": """
        SELECT a.id FROM application a WHERE EXISTS (SELECT 1 FROM application_status_change s WHERE s.application_id = a.id)
        AND a.status <> (SELECT s.to_status FROM application_status_change s WHERE s.application_id = a.id
                         ORDER BY s.id DESC LIMIT 1)""",
    "change whose status is not its last status change's": """
        SELECT c.id FROM customer_change c WHERE EXISTS (SELECT 1 FROM customer_change_status_change s WHERE s.change_id = c.id)
        AND c.status <> (SELECT s.to_status FROM customer_change_status_change s WHERE s.change_id = c.id
                         ORDER BY s.id DESC LIMIT 1)""",
    "handover without a customer": """
        SELECT h.id FROM handover h WHERE NOT EXISTS (SELECT 1 FROM handover_item i WHERE i.handover_id = h.id)""",
}


def incomplete_records() -> dict[str, list]:
    """The records saved in part (call in an app context): FK orphans on SQLite, and INCOMPLETE_RECORDS."""
    found = {}
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            orphans = conn.execute(text("PRAGMA foreign_key_check")).all()
            if orphans:
                found["rows pointing at nothing"] = [tuple(row) for row in orphans]
        names = set(inspect(conn).get_table_names())
        for label, sql in INCOMPLETE_RECORDS.items():
            if all(t in names for t in _tables_in(sql)):
                ids = conn.execute(text(sql)).scalars().all()
                if ids:
                    found[label] = ids
    return found


def _tables_in(sql: str) -> list[str]:
    words = sql.replace("(", " ").split()
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() == "FROM"]


# ---------------------------------------------------------------- bodies that are not forms at all

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
                    max_leaves=10)
RAW_BODIES = st.one_of(
    st.binary(max_size=512),
    st.sampled_from([b"%", b"a=%zz&b=%ff%fe", b"a=\xff\xfe", b"=&=&==", b"a" * 5000 + b"=1", b"\x00=\x00"]),
)


def other_body():
    """A JSON document or raw bytes, sent with a content type that may or may not say so."""
    import json

    return st.one_of(
        st.tuples(JSON.map(lambda doc: json.dumps(doc).encode()), st.just("application/json")),
        st.tuples(RAW_BODIES, st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data",
                                               "multipart/form-data; boundary=x", "text/plain", "application/json"])),
    )
