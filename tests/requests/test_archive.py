"""The electronic archive (档案): search, the lending purpose, scans, dossier versions, the lending register."""
import hashlib
import io
import re
import struct
import time
import uuid
import zlib
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from blueprints.archive.models import ArchiveScan, Dossier, LendingRecord
from blueprints.auth.models import Branch, Staff
from blueprints.customers.models import Customer, CustomerKind
from blueprints.opening.models import Application
from blueprints.return_visit.models import CHECK_ITEMS
from core import crypto, files
from core.extensions import db
from core.masking import mask_id_number
from core.roles import Role
from core.timeutil import BEIJING, business_today
from core.storage import LocalStore
from tests import factories
from tests.requests.helpers import add_staff, login_as, page_of, staff_id

SEEDED_NO = "C0101000001"  # 张建国, seeded in branch 0101 (北京朝阳门营业部)
SEEDED_ID = factories.EXISTING_CUSTOMER_ID
SHANGHAI_ID = factories.make_id("310115", "19800101", "451")
SECOND_CUSTOMER = factories.identity(id_number=factories.make_id("110105", "19880612", "317"), name="陈晓东")


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    """Keep scans, dossiers and exports in this test's own folder, never in the instance folder."""
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    return tmp_path / "files"


def stored_bytes(app, sha256: str) -> bytes:
    with app.app_context():
        return files.read(sha256)


# --- data ----------------------------------------------------------------------------------------

def active_customer(app, identity=None) -> str:
    """Walk an application to an active account (submit → approve → accounts → return visit); its customer number."""
    from blueprints.review import services as review
    from core import outbox

    identity = identity or factories.identity()
    clerk = login_as(app, "clerk")
    reference = factories.start(clerk, f"tok-{uuid.uuid4().hex}")
    factories.walk_with(clerk, reference, "summary", staff_id(app, "clerk"), identity=identity)
    assert clerk.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        checker = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(application, checker, checker)
        db.session.commit()
        outbox.run_once()
    items = [key for key in CHECK_ITEMS if key != "agent"]
    visit = login_as(app, "visitor").post(f"/return-visits/{reference}", {"outcome": "passed", "items": items})
    assert visit.status_code == 303
    with app.app_context():
        return db.session.scalar(factories.customer_named(identity["name"]).with_only_columns(Customer.customer_no))


def add_customer(app, customer_no: str, branch_code: str, name: str, id_number: str,
                 kind: str = CustomerKind.CURRENT) -> str:
    with app.app_context():
        branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
        factories.existing_customer(customer_no, branch.id, name, id_number, id_type="resident_id", kind=kind)
        db.session.commit()
    return customer_no


def set_customer(app, customer_no: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.customer_no == customer_no).values(**values))
        db.session.commit()


def opened_on(day: str) -> datetime:
    """Noon in Beijing of `day`, as the naive UTC the database stores."""
    local = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=BEIJING)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def lending(app) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(LendingRecord).order_by(LendingRecord.id))
        return [{"staff_id": r.staff_id, "customer_no": r.customer.customer_no if r.customer else None,
                 "action": str(r.action), "purpose": r.purpose, "scan_id": r.scan_id, "dossier_id": r.dossier_id,
                 "export_job_id": r.export_job_id, "ip": r.ip} for r in rows]


def scans(app) -> list[dict]:
    with app.app_context():
        return [{"id": s.id, "mime": s.mime, "sha256": s.sha256, "size": s.size, "scan_type": str(s.scan_type),
                 "original_name": s.original_name} for s in db.session.scalars(select(ArchiveScan).order_by(ArchiveScan.id))]


def dossiers(app) -> list[dict]:
    with app.app_context():
        return [{"id": d.id, "version": d.version, "sha256": d.sha256, "size": d.size, "pages": d.pages,
                 "archive_no": d.archive_no} for d in db.session.scalars(select(Dossier).order_by(Dossier.version))]


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    """A real (decodable) RGB PNG, built by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x1e\x3c\x78" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg_bytes(width: int = 8, height: int = 8) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


JPEG = jpeg_bytes()
# JPEG markers around nothing: it looks like a JPEG by its first bytes but does not decode.
BROKEN_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# --- requests ------------------------------------------------------------------------------------

def file_url(customer_no: str) -> str:
    return f"/archive/customers/{customer_no}"


def give_purpose(auth, customer_no: str, purpose: str = "客户投诉处理", detail: str = "TS-2026-001"):
    return auth.post(file_url(customer_no), {"purpose": purpose, "detail": detail})


def upload(auth, customer_no: str, data: bytes, name: str = "scan.png", scan_type: str = "id_front", htmx=False):
    return auth.post(f"{file_url(customer_no)}/scans", {"scan_type": scan_type, "scan": (io.BytesIO(data), name)},
                     htmx=htmx, content_type="multipart/form-data")


# --- search --------------------------------------------------------------------------------------

def posted_search(auth, **typed):
    """Post a name or ID-number search and follow it to its results page, whose URL carries only a key."""
    response = auth.post("/archive/", typed)
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    assert re.fullmatch(r"/archive/\?s=[A-Za-z0-9_-]{16,32}", location), location
    return auth.get(location)

@pytest.mark.parametrize("username, status", [
    ("archivist", 200), ("admin", 200), ("clerk", 403), ("reviewer", 403), ("visitor", 403), ("manager", 403),
])
def test_only_archivists_and_hq_search_the_archive(app, username, status):
    assert login_as(app, username).get("/archive/").status_code == status


def test_search_page_without_criteria_lists_nothing(app):
    body = login_as(app, "archivist").get("/archive/").get_data(as_text=True)
    assert "请输入客户号、姓名" in body and SEEDED_NO not in body


def test_search_by_customer_number_lists_the_customer_with_a_masked_name(app):
    response = login_as(app, "archivist").get("/archive/?customer_no=c0101")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert SEEDED_NO in body and "张**" in body and "张建国" not in body
    assert "北京朝阳门营业部" in body and "现有客户" in body
    assert file_url(SEEDED_NO) in page_of(response).urls


def test_search_by_name_matches_part_of_it(app):
    archivist = login_as(app, "archivist")
    assert SEEDED_NO in posted_search(archivist, name="建国").get_data(as_text=True)
    assert "没有符合条件的客户档案" in posted_search(archivist, name="欧阳").get_data(as_text=True)
    # A name in the query string is not a criterion: nothing is searched for.
    assert SEEDED_NO not in archivist.get("/archive/?name=建国").get_data(as_text=True)


def test_search_by_id_number_is_posted_and_never_put_in_a_url(app):
    archivist = login_as(app, "archivist")
    form_page = archivist.get("/archive/").get_data(as_text=True)
    assert re.search(r'<form method="post"[^>]*id="archive-id-search"', form_page)
    response = posted_search(archivist, id_number=SEEDED_ID.lower())
    assert response.status_code == 200
    page = page_of(response)
    assert SEEDED_NO in page.html and "张**" in page.html
    assert not [url for url in page.urls if SEEDED_ID in url.upper()]
    # An ID number in the query string is not a criterion: nothing is searched for.
    assert SEEDED_NO not in archivist.get(f"/archive/?id_number={SEEDED_ID}").get_data(as_text=True)
    assert "没有符合条件" in posted_search(archivist, id_number=SHANGHAI_ID).get_data(as_text=True)


def test_id_number_search_needs_a_number_and_the_csrf_token(app):
    archivist = login_as(app, "archivist")
    response = archivist.post("/archive/", {"id_number": " "})
    assert response.status_code == 422
    assert page_of(response).errors_for("id_number") == ["请输入证件号码"]
    assert archivist.client.post("/archive/", data={"id_number": SEEDED_ID}).status_code == 400


def test_search_by_opened_date_range(app):
    set_customer(app, SEEDED_NO, created_at=opened_on("2020-03-15"))
    archivist = login_as(app, "archivist")
    assert SEEDED_NO in archivist.get("/archive/?date_from=2020-03-15&date_to=2020-03-15").get_data(as_text=True)
    assert SEEDED_NO in archivist.get("/archive/?date_from=2020-03-01").get_data(as_text=True)
    assert SEEDED_NO not in archivist.get("/archive/?date_from=2020-03-16&date_to=2020-12-31").get_data(as_text=True)
    assert SEEDED_NO not in archivist.get("/archive/?date_to=2020-03-14").get_data(as_text=True)


@pytest.mark.parametrize("query, field, message", [
    ("date_from=2020-03-20&date_to=2020-03-01", "date_to", "结束日期不能早于开始日期"),
    ("date_from=2020-13-01", "date_from", "请输入正确的日期（年-月-日）"),
    ("customer_no=C01%25", "customer_no", "客户号由字母和数字组成，最多 16 位"),
])
def test_search_criteria_that_cannot_be_used_are_refused_next_to_the_field(app, query, field, message):
    response = login_as(app, "archivist").get(f"/archive/?{query}")
    assert response.status_code == 422
    assert page_of(response).errors_for(field) == [message]
    assert SEEDED_NO not in response.get_data(as_text=True)


def test_branch_archivist_does_not_find_another_branchs_customer_and_hq_does(app):
    add_customer(app, "C0201000009", "0201", "黄浦江", SHANGHAI_ID)
    archivist = login_as(app, "archivist")
    assert "C0201000009" not in archivist.get("/archive/?customer_no=C0201").get_data(as_text=True)
    assert "C0201000009" not in posted_search(archivist, id_number=SHANGHAI_ID).get_data(as_text=True)
    assert archivist.get(file_url("C0201000009")).status_code == 404
    assert give_purpose(archivist, "C0201000009").status_code == 404
    # A branch archivist's branch select offers only the own branch.
    assert "上海浦东营业部" not in archivist.get("/archive/").get_data(as_text=True)
    assert archivist.get(f"/archive/?branch={_branch_id(app, '0201')}").status_code == 422

    add_staff(app, "archivist_hq", Role.ARCHIVIST, "0000", "总部档案")
    for username in ("admin", "archivist_hq"):
        hq = login_as(app, username)
        body = hq.get(f"/archive/?branch={_branch_id(app, '0201')}").get_data(as_text=True)
        assert "C0201000009" in body and "黄**" in body and SEEDED_NO not in body, username
        assert "C0201000009" in posted_search(hq, id_number=SHANGHAI_ID).get_data(as_text=True)
    assert lending(app) == []


def _branch_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.code == code))


# --- the lending purpose -------------------------------------------------------------------------

def test_opening_a_file_shows_only_the_purpose_form(app):
    response = login_as(app, "archivist").get(file_url(SEEDED_NO))
    assert response.status_code == 200
    page = page_of(response)
    select_html = page.html.split('name="purpose"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', select_html) == ["", "客户投诉处理", "监管检查", "内部审计", "业务核查", "other"]
    assert "张**" in page.html and "张建国" not in page.html
    assert "档案版本" not in page.html and "影像资料" not in page.html.split("</form>")[-1]
    assert lending(app) == []


@pytest.mark.parametrize("data, field, message", [
    ({}, "purpose", "请选择借阅目的"),
    ({"purpose": "随便看看"}, "purpose", "请选择借阅目的"),
    ({"purpose": "other", "detail": "  "}, "detail", "选择“其他”时请写明借阅目的"),
])
def test_a_file_is_not_shown_without_a_purpose(app, data, field, message):
    archivist = login_as(app, "archivist")
    response = archivist.post(file_url(SEEDED_NO), data)
    assert response.status_code == 422
    assert page_of(response).errors_for(field) == [message]
    assert "张建国" not in response.get_data(as_text=True)
    assert lending(app) == []
    assert "档案版本" not in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)


def test_a_file_read_with_a_purpose_is_shown_and_registered(app):
    archivist = login_as(app, "archivist")
    response = give_purpose(archivist, SEEDED_NO)
    assert response.status_code == 303
    assert response.headers["Location"] == file_url(SEEDED_NO)
    body = archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert "张建国" in body and "档案版本" in body and "影像资料" in body and "生成新版本" in body
    assert "客户投诉处理：TS-2026-001" in body
    assert mask_id_number(SEEDED_ID) in body and SEEDED_ID not in body  # an archivist does not need the full number
    assert lending(app) == [{"staff_id": staff_id(app, "archivist"), "customer_no": SEEDED_NO, "action": "view",
                             "purpose": "客户投诉处理：TS-2026-001", "scan_id": None, "dossier_id": None,
                             "export_job_id": None, "ip": "127.0.0.1"}]
    # Within the half hour each further read is registered with the same purpose, without asking again.
    assert "档案版本" in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert [(r["action"], r["purpose"]) for r in lending(app)] == [("view", "客户投诉处理：TS-2026-001")] * 2


def test_other_purpose_is_registered_in_the_archivists_words(app):
    archivist = login_as(app, "archivist")
    assert give_purpose(archivist, SEEDED_NO, "other", "法院协助查询（2026）京0105协执12号").status_code == 303
    archivist.get(file_url(SEEDED_NO))
    assert lending(app)[0]["purpose"] == "法院协助查询（2026）京0105协执12号"


def test_the_purpose_expires_after_thirty_minutes_and_covers_only_its_customer(app):
    add_customer(app, "C0101000777", "0101", "李四海", factories.make_id("110105", "19700101", "019"))
    archivist = login_as(app, "archivist")
    give_purpose(archivist, SEEDED_NO)
    assert "档案版本" in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert "档案版本" not in archivist.get(file_url("C0101000777")).get_data(as_text=True)
    with archivist.client.session_transaction() as session:
        entry = session["archive_purpose"][SEEDED_NO]
        assert 29 * 60 < entry["until"] - time.time() <= 30 * 60
        session["archive_purpose"] = {SEEDED_NO: {**entry, "until": time.time() - 1}}
    assert "档案版本" not in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert len(lending(app)) == 1


def test_a_closed_customers_file_is_read_by_archivists_only(app):
    set_customer(app, SEEDED_NO, kind=CustomerKind.HISTORICAL)
    admin = login_as(app, "admin")
    body = admin.get(f"/archive/?customer_no={SEEDED_NO}").get_data(as_text=True)
    assert SEEDED_NO in body and file_url(SEEDED_NO) not in body and "仅档案管理员可查阅" in body
    assert admin.get(file_url(SEEDED_NO)).status_code == 403
    assert give_purpose(admin, SEEDED_NO).status_code == 403
    archivist = login_as(app, "archivist")
    assert SEEDED_NO in archivist.get(f"/archive/?customer_no={SEEDED_NO}").get_data(as_text=True)
    give_purpose(archivist, SEEDED_NO)
    assert "历史客户（已销户）" in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert [r["staff_id"] for r in lending(app)] == [staff_id(app, "archivist")]


@pytest.mark.parametrize("username", ["clerk", "reviewer", "manager", "visitor"])
def test_other_roles_do_not_read_files(app, username):
    other = login_as(app, username)
    assert other.get(file_url(SEEDED_NO)).status_code == 403
    assert give_purpose(other, SEEDED_NO).status_code == 403
    assert lending(app) == []


# --- scans ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, mime", [
    ("身份证正面.png", png_bytes(), "image/png"),
    ("id.jpg", JPEG, "image/jpeg"),
    ("authorization.pdf", PDF, "application/pdf"),
])
def test_archivist_uploads_a_scan_judged_by_its_content(app, file_store, name, data, mime):
    archivist = login_as(app, "archivist")
    response = upload(archivist, SEEDED_NO, data, name)
    assert response.status_code == 303
    assert response.headers["Location"] == file_url(SEEDED_NO)
    [scan] = scans(app)
    assert scan["mime"] == mime and scan["size"] == len(data) and scan["original_name"] == name
    assert scan["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored_bytes(app, scan["sha256"]) == data
    give_purpose(archivist, SEEDED_NO)
    body = archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert "身份证件正面" in body and "周档案" in body and f"/archive/scans/{scan['id']}" in body


@pytest.mark.parametrize("name, data, message", [
    ("photo.jpg", "这是一段文字，改名成了图片。".encode(), "文件内容不是允许的格式（按文件内容识别，与文件名无关）；仅接受 JPEG、PNG 或 PDF"),
    ("empty.png", b"", "文件为空，请重新选择；仅接受 JPEG、PNG 或 PDF"),
    ("id.jpg", BROKEN_JPEG, "图像无法识别或已损坏，请重新扫描或拍摄后上传；仅接受 JPEG、PNG 或 PDF"),
])
def test_a_file_that_is_not_a_scan_is_refused_next_to_the_file_field(app, name, data, message):
    response = upload(login_as(app, "archivist"), SEEDED_NO, data, name)
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("scan") == [message]
    assert page.selected["scan_type"] == ["id_front"]  # the choice made is kept
    assert 'enctype="multipart/form-data"' in page.html
    assert scans(app) == []


def test_an_oversized_scan_is_refused_with_the_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_SCAN_BYTES", 100)
    response = upload(login_as(app, "archivist"), SEEDED_NO, png_bytes(64, 64))
    assert response.status_code == 422
    [message] = page_of(response).errors_for("scan")
    assert message.startswith("文件过大") and "上限为" in message
    assert scans(app) == []


def test_an_upload_without_a_file_or_type_says_what_is_missing(app):
    archivist = login_as(app, "archivist")
    response = archivist.post(f"{file_url(SEEDED_NO)}/scans", {"scan_type": "", "scan": (io.BytesIO(b""), "")},
                              content_type="multipart/form-data")
    assert response.status_code == 422
    page = page_of(response)
    assert page.errors_for("scan_type") == ["请选择影像类型"] and page.errors_for("scan") == ["请选择要上传的文件"]
    assert scans(app) == []


def test_an_htmx_upload_refusal_returns_only_the_upload_form(app):
    response = upload(login_as(app, "archivist"), SEEDED_NO, b"plain text", "a.jpg", htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="scan-upload">') and "<html" not in body
    assert page_of(response).errors_for("scan")


def test_a_clerk_of_the_branch_uploads_and_a_clerk_of_another_branch_cannot(app):
    clerk = login_as(app, "clerk")
    form = page_of(clerk.get(f"{file_url(SEEDED_NO)}/scans"))
    assert 'enctype="multipart/form-data"' in form.html and "张**" in form.html and "张建国" not in form.html
    response = upload(clerk, SEEDED_NO, png_bytes(), scan_type="signature")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{file_url(SEEDED_NO)}/scans"
    assert [s["scan_type"] for s in scans(app)] == ["signature"]
    assert upload(login_as(app, "clerk_sh"), SEEDED_NO, png_bytes(8, 8)).status_code == 404
    assert upload(login_as(app, "reviewer"), SEEDED_NO, png_bytes(8, 8)).status_code == 403
    assert len(scans(app)) == 1
    # A clerk uploads but does not read the file.
    assert clerk.get(file_url(SEEDED_NO)).status_code == 403
    assert clerk.get(f"/archive/scans/{scans(app)[0]['id']}").status_code == 403


def test_a_clerk_cannot_add_scans_to_a_closed_customer(app):
    set_customer(app, SEEDED_NO, kind=CustomerKind.HISTORICAL)
    assert upload(login_as(app, "clerk"), SEEDED_NO, png_bytes()).status_code == 403
    assert upload(login_as(app, "archivist"), SEEDED_NO, png_bytes()).status_code == 303


def test_a_scan_is_shown_only_with_a_purpose_and_each_view_is_registered(app):
    data = png_bytes()
    archivist = login_as(app, "archivist")
    upload(archivist, SEEDED_NO, data)
    url = f"/archive/scans/{scans(app)[0]['id']}"
    response = archivist.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == file_url(SEEDED_NO)
    assert "查阅档案须先登记借阅目的" in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert lending(app) == []

    give_purpose(archivist, SEEDED_NO, "业务核查", "")
    response = archivist.get(url)
    assert response.status_code == 200
    assert response.data == data and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["Cache-Control"] == "no-store"
    assert lending(app) == [{"staff_id": staff_id(app, "archivist"), "customer_no": SEEDED_NO, "action": "view",
                             "purpose": "业务核查", "scan_id": scans(app)[0]["id"], "dossier_id": None,
                             "export_job_id": None, "ip": "127.0.0.1"}]


def test_a_scan_of_another_branch_is_not_found(app):
    add_customer(app, "C0201000009", "0201", "黄浦江", SHANGHAI_ID)
    add_staff(app, "archivist_hq", Role.ARCHIVIST, "0000", "总部档案")
    hq = login_as(app, "archivist_hq")
    assert upload(hq, "C0201000009", png_bytes()).status_code == 303
    url = f"/archive/scans/{scans(app)[0]['id']}"
    archivist = login_as(app, "archivist")
    give_purpose(archivist, SEEDED_NO)
    assert archivist.get(url).status_code == 404
    assert archivist.get("/archive/scans/999999").status_code == 404
    give_purpose(hq, "C0201000009")
    assert hq.get(url).status_code == 200
    assert [r["staff_id"] for r in lending(app) if r["scan_id"]] == [staff_id(app, "archivist_hq")]


# --- dossiers ------------------------------------------------------------------------------------

def test_dossier_versions_are_generated_kept_and_downloaded_under_the_purpose(app, file_store):
    customer_no = active_customer(app)
    archivist = login_as(app, "archivist")
    assert upload(archivist, customer_no, png_bytes(), "正面.png").status_code == 303
    give_purpose(archivist, customer_no, "监管检查", "证监局现场检查")
    generate = f"{file_url(customer_no)}/dossiers"

    response = archivist.post(generate)
    assert response.status_code == 303 and response.headers["Location"] == file_url(customer_no)
    [first] = dossiers(app)
    assert first["version"] == 1 and first["pages"] >= 3
    with app.app_context():
        archive_no = db.session.scalar(select(Customer.archive_no).where(Customer.customer_no == customer_no))
    assert first["archive_no"] == archive_no == f"DA0101-{customer_no}"
    first_bytes = stored_bytes(app, first["sha256"])
    assert hashlib.sha256(first_bytes).hexdigest() == first["sha256"] and len(first_bytes) == first["size"]

    assert archivist.post(generate).status_code == 303
    assert [d["version"] for d in dossiers(app)] == [1, 2]
    assert dossiers(app)[0] == first and stored_bytes(app, first["sha256"]) == first_bytes  # version 1 untouched

    page = archivist.get(file_url(customer_no)).get_data(as_text=True)
    assert "第 1 版" in page and "第 2 版" in page and first["sha256"] in page
    assert f"/archive/dossiers/{first['id']}/download" in page

    download = archivist.get(f"/archive/dossiers/{first['id']}/download")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf" and download.data == first_bytes and download.data.startswith(b"%PDF-")
    assert download.headers["Content-Disposition"] == f"attachment; filename={archive_no}-v1.pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(download.data)).pages)
    assert "刘晓明" in text and "开户申请表" in text
    downloads = [r for r in lending(app) if r["action"] == "download"]
    assert downloads == [{"staff_id": staff_id(app, "archivist"), "customer_no": customer_no, "action": "download",
                          "purpose": "监管检查：证监局现场检查", "scan_id": None, "dossier_id": first["id"],
                          "export_job_id": None, "ip": "127.0.0.1"}]

    # Another archivist's browser has given no purpose: it is asked for one, nothing is sent or registered.
    add_staff(app, "archivist2", Role.ARCHIVIST, "0101", "吴档案")
    other = login_as(app, "archivist2")
    response = other.get(f"/archive/dossiers/{first['id']}/download")
    assert response.status_code == 302 and response.headers["Location"] == file_url(customer_no)
    assert len([r for r in lending(app) if r["action"] == "download"]) == 1
    assert login_as(app, "clerk_sh").get(f"/archive/dossiers/{first['id']}/download").status_code == 403


def test_dossier_of_another_branchs_customer_is_neither_generated_nor_downloaded(app):
    add_customer(app, "C0201000009", "0201", "黄浦江", SHANGHAI_ID)
    archivist = login_as(app, "archivist")
    assert archivist.post(f"{file_url('C0201000009')}/dossiers").status_code == 404
    assert archivist.get("/archive/dossiers/999999/download").status_code == 404
    assert dossiers(app) == []


def test_dossier_generation_when_this_machine_cannot_render_says_why_on_the_file(app, monkeypatch):
    from core.pdf import renderer as pdf

    def unavailable(*_args, **_kwargs):
        raise pdf.DossierUnavailable(pdf.HARFBUZZ_SUBSET_MISSING)

    monkeypatch.setattr(pdf, "render_pdf", unavailable)
    archivist = login_as(app, "archivist")
    give_purpose(archivist, SEEDED_NO)
    response = archivist.post(f"{file_url(SEEDED_NO)}/dossiers")
    assert response.status_code == 303  # the job is queued; the worker (here: the request, after it) fails it
    page = archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert "生成档案失败" in page and "libharfbuzz-subset0" in page
    assert dossiers(app) == []


@pytest.mark.parametrize("username", ["admin", "clerk", "manager"])
def test_only_archivists_generate_dossiers(app, username):
    assert login_as(app, username).post(f"{file_url(SEEDED_NO)}/dossiers").status_code == 403
    assert dossiers(app) == []


def test_dossier_generation_requires_the_csrf_token(app):
    archivist = login_as(app, "archivist")
    assert archivist.client.post(f"{file_url(SEEDED_NO)}/dossiers").status_code == 400
    assert dossiers(app) == []


# --- the lending register ------------------------------------------------------------------------

def _reads(app) -> None:
    """The archivist reads the seeded customer's file and a scan; a Shanghai HQ read happens too."""
    archivist = login_as(app, "archivist")
    upload(archivist, SEEDED_NO, png_bytes())
    give_purpose(archivist, SEEDED_NO, "内部审计", "")
    archivist.get(file_url(SEEDED_NO))
    archivist.get(f"/archive/scans/{scans(app)[0]['id']}")
    add_customer(app, "C0201000009", "0201", "黄浦江", SHANGHAI_ID)
    add_staff(app, "archivist_hq", Role.ARCHIVIST, "0000", "总部档案")
    hq = login_as(app, "archivist_hq")
    give_purpose(hq, "C0201000009", "监管检查", "")
    hq.get(file_url("C0201000009"))


@pytest.mark.parametrize("username", ["manager", "archivist", "admin"])
def test_the_register_shows_who_read_which_file_when_and_why(app, username):
    _reads(app)
    response = login_as(app, username).get("/archive/register")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "周档案（archivist）" in body and "张** C0101000001" in body and "张建国" not in body
    assert "内部审计" in body and "127.0.0.1" in body and "查阅" in body and "（影像资料）" in body
    # A branch sees its own staff's records; HQ sees everybody's.
    assert ("黄** C0201000009" in body) == (username == "admin")


def test_the_register_filters_by_staff_customer_action_and_date(app):
    _reads(app)
    admin = login_as(app, "admin")
    archivist_id, hq_id = staff_id(app, "archivist"), staff_id(app, "archivist_hq")

    def rows(query):
        response = admin.get(f"/archive/register?{query}")
        assert response.status_code == 200
        return response.get_data(as_text=True).count("<tr data-record=")

    assert rows("") == 3
    assert rows(f"staff={archivist_id}") == 2 and rows(f"staff={hq_id}") == 1
    assert rows("customer_no=C0201000009") == 1 and rows("customer_no=c0101000001") == 2
    assert rows("action=view") == 3 and rows("action=download") == 0
    today = business_today().isoformat()
    assert rows(f"date_from={today}&date_to={today}") == 3 and rows("date_to=2020-01-01") == 0
    response = admin.get("/archive/register?date_from=2026-02-01&date_to=2026-01-01")
    assert response.status_code == 422
    assert page_of(response).errors_for("date_to") == ["结束日期不能早于开始日期"]
    # A branch manager cannot pick another branch's staff.
    response = login_as(app, "manager").get(f"/archive/register?staff={hq_id}")
    assert response.status_code == 422 and page_of(response).errors_for("staff")


@pytest.mark.parametrize("username", ["clerk", "reviewer", "visitor", "marketing"])
def test_other_roles_do_not_see_the_register(app, username):
    assert login_as(app, username).get("/archive/register").status_code == 403
