"""Uploads are decoded within a pixel limit before they are kept, and nothing personal is kept in the clear."""
import io
import os
import uuid

import pytest
from sqlalchemy import select

from blueprints.archive import services as archive
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.opening.models import Application
from blueprints.return_visit import services as return_visit
from blueprints.review import services as review
from core import files, outbox
from core.extensions import db
from tests import factories
from tests.requests.helpers import login_as, page_of, staff_id
from tests.requests.test_archive import SEEDED_NO, give_purpose, upload

BOMB_SIDE = 9500


@pytest.fixture(scope="module")
def pixel_bomb() -> bytes:
    """A 9500×9500 PNG: a few KB on disk, 90 megapixels (270 MB) once decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (BOMB_SIDE, BOMB_SIDE)).save(buffer, format="PNG", optimize=True)
    assert len(buffer.getvalue()) < 64 * 1024
    return buffer.getvalue()


BROKEN_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
TOO_LARGE = f"图像尺寸过大（{BOMB_SIDE}×{BOMB_SIDE} 像素，上限 4000 万像素），请降低分辨率后重新上传"


def test_a_pixel_bomb_scan_is_refused_at_upload_without_being_decoded(app, file_store, pixel_bomb):
    import time

    archivist = login_as(app, "archivist")
    started = time.perf_counter()
    response = upload(archivist, SEEDED_NO, pixel_bomb, "bomb.png")
    assert time.perf_counter() - started < 2  # decoding it would take many seconds
    assert response.status_code == 422
    assert page_of(response).errors_for("scan") == [f"{TOO_LARGE}；仅接受 JPEG、PNG 或 PDF"]
    assert list(file_store.digests()) == []


def test_a_pixel_bomb_in_the_opening_documents_step_is_refused_next_to_its_field(app, file_store, pixel_bomb):
    clerk = login_as(app, "clerk")
    reference = factories.start(clerk, "bomb")
    factories.walk_with(clerk, reference, "documents", staff_id(app, "clerk"))
    response = clerk.post(factories.step_url(reference, "documents"),
                          {"id_front": (io.BytesIO(pixel_bomb), "front.png"), "action": "upload"})
    assert response.status_code == 422
    assert page_of(response).errors_for("id_front") == [TOO_LARGE]
    assert list(file_store.digests()) == []


def test_the_pixel_limit_is_configured(app, file_store, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_IMAGE_PIXELS", 1000)
    with app.app_context(), pytest.raises(files.FileRejected, match="上限 0 万像素"):
        files.store(factories.scan_png(40, 30), {"image/png"}, 10**6)


def test_an_undecodable_jpeg_is_refused_at_upload(app, file_store):
    response = upload(login_as(app, "archivist"), SEEDED_NO, BROKEN_JPEG, "id.jpg")
    assert response.status_code == 422
    assert page_of(response).errors_for("scan") == ["图像无法识别或已损坏，请重新扫描或拍摄后上传；仅接受 JPEG、PNG 或 PDF"]


def test_a_scan_shown_inline_is_named_by_its_detected_type(app, file_store):
    archivist = login_as(app, "archivist")
    assert upload(archivist, SEEDED_NO, factories.scan_png(), "身份证正面.jpg").status_code == 303
    give_purpose(archivist, SEEDED_NO)
    with app.app_context():
        scan_id = db.session.scalar(select(archive.ArchiveScan.id))
    response = archivist.get(f"/archive/scans/{scan_id}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline") and disposition.endswith(".png") and ".jpg" not in disposition
    assert response.headers["Cache-Control"] == "no-store" and response.data.startswith(b"\x89PNG")


# --- nothing personal in the clear ------------------------------------------------------------------

SEEDED = {
    "ID number": factories.make_id("110105", "19880612", "537"),
    "mobile": "13987650432",
    "bank card": "6222026" + "71" + "3579246" + "80",
    "address": "上海市浦东新区世纪大道1000号8栋2201",
}


def _bank_card() -> str:
    from stdnum import luhn

    return SEEDED["bank card"][:-1] + luhn.calc_check_digit(SEEDED["bank card"][:-1])


def _seeded_customer(app) -> str:
    """Open, approve and activate an account with the seeded values; its customer number."""
    clerk = login_as(app, "clerk")
    reference = factories.start(clerk, f"seeded-{uuid.uuid4().hex}")
    factories.walk_with(clerk, reference, "summary", staff_id(app, "clerk"),
                        identity=factories.identity(id_number=SEEDED["ID number"], birth_date="1988-06-12",
                                                    sex="M", address=SEEDED["address"], name="严守秘"),
                        contact=factories.contact(mobile=SEEDED["mobile"], address=SEEDED["address"]),
                        agreements=factories.agreements(bank_card=_bank_card()))
    assert clerk.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(application, reviewer, reviewer)
        db.session.commit()
        outbox.run_once()
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        agent = db.session.scalar(select(Staff).where(Staff.username == "visitor"))
        return_visit.record_visit(application, agent, "passed", return_visit.required_items(application), "")
        db.session.commit()
        return db.session.scalar(select(Customer.customer_no).where(Customer.id == application.customer_id))


def _files_under(*roots) -> list[str]:
    found = []
    for root in roots:
        if os.path.isfile(root):
            found.append(root)
        for folder, _dirs, names in os.walk(root):
            found += [os.path.join(folder, name) for name in names]
    return found


_GREP = """
import json, os, sys
paths, needles = json.loads(sys.argv[1]), {k: bytes.fromhex(v) for k, v in json.loads(sys.argv[2]).items()}
hits = []
for path in paths:
    if os.path.exists(path):
        content = open(path, "rb").read()
        hits += [[label, os.path.basename(path)] for label, needle in needles.items() if needle in content]
print(json.dumps(hits))
"""


def _hits(paths: list[str], needles: dict[str, bytes]) -> list[tuple[str, str]]:
    """Which needles occur in which files. Read in another process: closing a descriptor of a SQLite
    file in this one would drop the locks its connections hold (POSIX locks are per process)."""
    import json
    import subprocess
    import sys

    found = subprocess.run([sys.executable, "-c", _GREP, json.dumps(paths),
                            json.dumps({label: needle.hex() for label, needle in needles.items()})],
                           check=True, capture_output=True, text=True).stdout
    return [tuple(hit) for hit in json.loads(found)]


def test_seeded_personal_values_are_nowhere_in_the_store_the_database_or_its_wal(app, file_store, database_url):
    """Names are left out: they are kept in search keys by design (prefix search), not the values checked here."""
    values = dict(SEEDED, **{"bank card": _bank_card()})
    customer_no = _seeded_customer(app)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        entry = archive.generate_dossier_now(customer, archivist)
        db.session.commit()
        dossier = files.read(entry.sha256)
    # The values are in what was stored (the dossier's record attachment), so the grep below means something.
    from pypdf import PdfReader

    record = b"".join(b"".join(data) for data in PdfReader(io.BytesIO(dossier)).attachments.values())
    assert all(value.encode() in record for value in values.values())

    needles = {label: value.encode() for label, value in values.items()}
    needles.update({f"{label} (UTF-16)": value.encode("utf-16-be") for label, value in values.items()})
    stored = _files_under(file_store.root)
    assert len(stored) >= 3  # scans and the dossier
    assert _hits(stored, needles) == []
    if not database_url.startswith("sqlite"):
        return
    database = database_url.removeprefix("sqlite:///")
    paths = [database, f"{database}-wal", f"{database}-shm"]
    assert os.path.getsize(f"{database}-wal") > 0
    # The China Clearing simulator's own records (what it registered) share the file, encrypted too.
    assert _hits(paths, needles) == []
