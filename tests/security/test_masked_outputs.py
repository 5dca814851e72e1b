"""Customer values leave the app masked for a role that must see masks: pages, JSON, Excel, CSV, PDF, logs, audit."""
import io
import json
import logging
import re
import zipfile
from collections import deque
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.archive import services as archive_services
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from core.extensions import db
from core.masking import mask_bank_card, mask_id_number, mask_mobile
from core.models import AuditEvent
from core.roles import ROLES_SEEING_FULL_ID
from core.storage import LocalStore
from tests import factories
from tests.lifecycle import activate_customer
from tests.requests.helpers import Page, login_as

MOBILE = factories.contact()["mobile"]
FULL_VALUES = {"ID number": factories.CUSTOMER_ID, "mobile": MOBILE, "bank card": factories.BANK_CARD}
# What the values look like with the separators a page or a document may put in them.
SPACED = {label: " ".join(re.findall(".{1,4}", value)) for label, value in FULL_VALUES.items()}
BIRTH_DATE_DIGITS = factories.CUSTOMER_ID[6:14]
# An address keeps its province, city and district: what follows them is the part never shown masked.
ADDRESS_DETAIL = factories.contact()["address"].removeprefix("北京市朝阳区")
# Pages that end the session or act on other things than showing one.
SKIPPED_PATHS = ("/logout", "/static/", "/auth/logout")
MAX_PAGES = 250


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    return tmp_path / "files"


@pytest.fixture
def customer_no(app, auth, file_store):
    """An active customer (full ID number, mobile and bank card on record), assigned to the customer manager."""
    auth.login()
    number = activate_customer(app, auth)
    with app.app_context():
        from blueprints.managers import services as managers

        customer = db.session.scalar(select(Customer).where(Customer.customer_no == number))
        manager = db.session.scalar(select(Staff).where(Staff.username == "cmanager"))
        managers.assign(customer, manager, db.session.scalar(select(Staff).where(Staff.username == "manager")),
                        "测试分配") if hasattr(managers, "assign") else None
        db.session.commit()
    return number


def leaks(text: str, *, full_id_allowed: bool) -> list[str]:
    """The full values found in `text` (digits only compared, so spacing does not hide one)."""
    digits = re.sub(r"[\s\-]", "", text)
    found = [label for label, value in FULL_VALUES.items()
             if value in digits and not (label == "ID number" and full_id_allowed)]
    if not full_id_allowed and BIRTH_DATE_DIGITS in digits:
        found.append("birth-date digits of the ID number")
    if not full_id_allowed and ADDRESS_DETAIL in digits:
        found.append("address beyond its district")
    return found


def text_of(response) -> str:
    """What a response shows, by its kind: page or JSON text, a workbook's cells, a PDF's text."""
    kind = response.mimetype
    data = response.get_data()
    if kind == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if kind.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
                         if cell is not None)
    if kind == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                             if name.endswith((".json", ".csv", ".txt", ".html")))
    return data.decode("utf-8", "replace")


def crawl(app, username: str, start: str = "/") -> dict[str, list[str]]:
    """GET every page reachable from `start` by links and htmx GETs; the leaks found in each."""
    auth = login_as(app, username)
    seen, queue, found = {start}, deque([start]), {}
    while queue and len(seen) <= MAX_PAGES:
        url = queue.popleft()
        response = auth.get(url)
        if response.status_code >= 300:
            continue
        body = text_of(response)
        role = _role(app, username)
        hits = leaks(body, full_id_allowed=role in ROLES_SEEING_FULL_ID)
        if hits:
            found[url] = hits
        if response.mimetype != "text/html":
            continue
        for link in Page(body).urls:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or link.startswith(SKIPPED_PATHS):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return found


def _role(app, username):
    with app.app_context():
        return db.session.scalar(select(Staff.role).where(Staff.username == username))


@pytest.mark.parametrize("username", ["manager", "admin", "visitor", "archivist", "cmanager", "reviewer", "marketing",
                                      "broker"])
def test_no_page_reachable_by_a_masked_role_shows_a_full_value(app, customer_no, username):
    assert crawl(app, username) == {}


def test_the_printed_dossier_masks_what_the_screens_mask_and_its_record_attachment_keeps_the_full_values(
        app, customer_no):
    """The archived PDF prints ID number, mobile, card and addresses masked, as every page does for a role
    that sees masks; the full values stay in its record.json attachment, the archival record an archivist
    opens only with the lending purpose entered in the register."""
    archivist = login_as(app, "archivist")
    file_url = f"/archive/customers/{customer_no}"
    assert archivist.post(file_url, {"purpose": "监管检查", "detail": "证监局现场检查"}).status_code == 303
    assert archivist.post(f"{file_url}/dossiers").status_code == 303
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        [dossier] = archive_services.dossiers_of(customer)
        dossier_id = dossier.id

    download = archivist.get(f"/archive/dossiers/{dossier_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    printed = text_of(download)
    assert leaks(printed, full_id_allowed=False) == []
    compact = re.sub(r"\s", "", printed)
    for masked in (mask_id_number(factories.CUSTOMER_ID), mask_mobile(MOBILE), mask_bank_card(factories.BANK_CARD),
                   "北京市朝阳区****"):
        assert masked in compact, masked

    [record] = PdfReader(io.BytesIO(download.data)).attachments["record.json"]
    kept = json.loads(record)
    assert kept["customer"]["id_number"] == factories.CUSTOMER_ID
    assert kept["applications"][0]["contact"]["address"].endswith(ADDRESS_DETAIL)


class Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def every_log_line():
    """The message of every record logged at any level from before the customer is opened (ask for it
    before `customer_no`)."""
    root, kept = logging.getLogger(), Kept()
    level = root.level
    root.addHandler(kept)
    root.setLevel(logging.DEBUG)
    yield kept.lines
    root.removeHandler(kept)
    root.setLevel(level)


def test_no_log_line_and_no_audit_row_holds_a_full_value(app, every_log_line, customer_no):
    """Opening, approving and activating the customer (the fixture) and every role's pages log and audit
    what was done to whom by customer number and reference, never the values themselves."""
    for username in ("clerk", "reviewer", "manager", "archivist", "visitor"):
        crawl(app, username)
    logged = "\n".join(every_log_line)
    assert logged and leaks(logged, full_id_allowed=False) == []

    with app.app_context():
        rows = db.session.execute(select(AuditEvent.actor_name, AuditEvent.object_id, AuditEvent.detail)).all()
    assert len(rows) > 50
    assert leaks(json.dumps([list(row) for row in rows], ensure_ascii=False), full_id_allowed=False) == []
