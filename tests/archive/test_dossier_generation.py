"""A customer's dossier: real WeasyPrint output, versioned, with the record embedded."""
import hashlib
import io
import json
import subprocess
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.archive import services
from blueprints.archive.dossier import SECTION_TITLES
from blueprints.archive.models import Dossier, ExportStatus, LendingRecord
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from core import files
from core.extensions import db
from core.timeutil import business_today

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")


def generate(app, customer_no):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        entry = services.generate_dossier_now(customer, archivist)
        db.session.commit()
        return entry.id, entry.version, entry.sha256, entry.pages, entry.record_sha256, files.read(entry.sha256)


def test_dossier_text_has_the_name_the_sections_and_page_numbers(app, active_customer):
    _, version, sha256, pages, record_sha256, data = generate(app, active_customer)

    assert version == 1 and hashlib.sha256(data).hexdigest() == sha256
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == pages >= 4
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "刘䶮" in text  # CJK Extension A, rendered with a real glyph (no .notdef box)
    for key in ("application", "disclosure", "suitability", "agreements", "review", "return_visit", "accounts"):
        assert SECTION_TITLES[key] in text, key
    for number in range(1, pages + 1):
        assert f"第 {number} 页 共 {pages} 页" in text
    assert active_customer in text and "目录" in text


def test_dossier_is_pdf_a3b_with_the_record_attached(app, active_customer):
    _, _, _, _, record_sha256, data = generate(app, active_customer)
    reader = PdfReader(io.BytesIO(data))

    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode("utf-8", "replace")
    assert "pdfaid:part" in raw and ">3<" in raw.replace('"3"', ">3<") and "B" in raw
    attachments = reader.attachments
    assert "record.json" in attachments
    record_bytes = attachments["record.json"][0]
    assert hashlib.sha256(record_bytes).hexdigest() == record_sha256
    record = json.loads(record_bytes)
    assert record["customer"]["name"] == "刘䶮"
    assert record["applications"][0]["status"] == "approved"
    assert [(h["from"], h["to"], h["round_no"]) for h in record["applications"][0]["return_visit_history"]] == [
        (None, "awaiting", 1), ("awaiting", "passed", 1)]
    assert record["applications"][0]["assessment"]["answers"]


def test_regenerating_makes_a_new_version_and_keeps_the_old_file(app, active_customer):
    first_id, _, first_sha, *_ = generate(app, active_customer)
    second_id, version, second_sha, *_ = generate(app, active_customer)

    assert version == 2 and second_id != first_id
    with app.app_context():
        first = db.session.get(Dossier, first_id)
        assert hashlib.sha256(files.read(first.sha256)).hexdigest() == first_sha == first.sha256


def test_cover_page_renders_to_png(app, active_customer, tmp_path):
    *_, data = generate(app, active_customer)
    pdf_file = tmp_path / "dossier.pdf"
    pdf_file.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_file), str(tmp_path / "cover")],
                   check=True)
    [png] = list(tmp_path.glob("cover*.png"))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5_000


def test_an_image_scan_appears_in_the_dossier(app, active_customer):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == active_customer))
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        scan = services.add_scan(customer, "id_front", PNG_1PX, "front.png", clerk)
        db.session.commit()
        assert scan.mime == "image/png"
    *_, data = generate(app, active_customer)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert SECTION_TITLES["scans"] in text and "身份证件正面" in text


@pytest.mark.parametrize("data, reason", [
    (b"plain text pretending to be a photo", "文件内容不是允许的格式"),
    (b"", "文件为空"),
])
def test_bad_scans_are_refused_with_a_reason(app, active_customer, data, reason):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == active_customer))
        clerk = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        with pytest.raises(services.ArchiveRefused, match=reason):
            services.add_scan(customer, "id_front", data, "front.jpg", clerk)


def test_batch_export_zips_the_branch_dossiers_and_registers_them(app, active_customer):
    with app.app_context():
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        today = business_today()
        job = services.start_export(archivist, archivist.branch_id, today - timedelta(days=1), today, "监管检查")
        db.session.commit()
        services.run_export(job.id)
        db.session.refresh(job)
        # The branch has two customers created today: the demo customer and the new one.
        assert (job.status, job.total, job.done) == (ExportStatus.DONE, 2, 2)
        names = sorted(zipfile.ZipFile(io.BytesIO(files.read(job.sha256))).namelist())
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == active_customer))
        assert f"{customer.archive_no}-v1.pdf" in names and len(names) == 2
        records = list(db.session.scalars(select(LendingRecord).where(LendingRecord.export_job_id == job.id)))
        assert [r.action for r in records] == ["export", "export"]
        assert {r.purpose for r in records} == {"监管检查"}


def test_export_of_another_branch_is_refused_for_a_branch_archivist(app):
    with app.app_context():
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        other = db.session.scalar(select(Staff).where(Staff.username == "clerk_sh"))
        with pytest.raises(services.ArchiveRefused, match="只能导出本营业部"):
            services.start_export(archivist, other.branch_id, business_today(), business_today(), "审计")
