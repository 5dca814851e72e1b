"""Batch export of a branch's dossiers (档案批量导出): the form, the job, its progress and its zip."""
import hashlib
import io
import zipfile

import pytest
from sqlalchemy import select

from blueprints.archive import services
from blueprints.archive.models import Dossier, ExportJob, ExportStatus
from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from core import files, jobs
from core.extensions import db
from core.roles import Role
from core.timeutil import business_today, utcnow
from tests.requests.helpers import add_staff, login_as, page_of, staff_id
from tests.requests.test_archive import (  # noqa: F401  (file_store is an autouse fixture)
    SECOND_CUSTOMER,
    SEEDED_NO,
    active_customer,
    file_store,
    lending,
    opened_on,
    set_customer,
)


@pytest.fixture
def inline_exports(app, monkeypatch):
    """Run an export's job inside the request that queues it, so it is finished when the POST returns."""
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)


@pytest.fixture
def branch(app) -> int:
    """The archivist's branch (北京朝阳门营业部)."""
    with app.app_context():
        return db.session.scalar(select(Staff.branch_id).where(Staff.username == "archivist"))


def export_form(branch_id: int, date_from: str, date_to: str, purpose="监管检查", detail="现场检查") -> dict:
    return {"branch": str(branch_id), "date_from": date_from, "date_to": date_to, "purpose": purpose, "detail": detail}


def job_row(app, job_id: int) -> dict:
    with app.app_context():
        job = db.session.get(ExportJob, job_id)
        return {"status": str(job.status), "total": job.total, "done": job.done, "sha256": job.sha256,
                "size": job.size, "error": job.error, "requested_by_id": job.requested_by_id}


def make_job(app, username="archivist", status=ExportStatus.QUEUED, total=0, done=0, zip_bytes=None) -> int:
    """An export job in a given state, without rendering anything."""
    with app.app_context(), app.test_request_context(method="POST"):  # a request that writes
        actor = db.session.scalar(select(Staff).where(Staff.username == username))
        today = business_today()
        job = services.start_export(actor, actor.branch_id, today, today, "内部审计")
        job.status, job.total, job.done = status, total, done
        if zip_bytes is not None:
            stored = files.store(zip_bytes, allowed={"application/zip"}, max_bytes=10**6)
            job.sha256, job.size, job.finished_at = stored.sha256, stored.size, utcnow()
        db.session.commit()
        return job.id


def small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("DA0101-C0101000001-v1.pdf", b"%PDF-1.7\n%%EOF\n")
    return buffer.getvalue()


# --- the whole export ----------------------------------------------------------------------------

def test_export_of_a_branchs_customers_in_range_zips_their_dossiers_and_registers_each(app, inline_exports, branch):
    first = active_customer(app)
    second = active_customer(app, SECOND_CUSTOMER)
    set_customer(app, SEEDED_NO, created_at=opened_on("2020-03-15"))  # opened outside the range
    today = business_today().isoformat()
    archivist = login_as(app, "archivist")

    response = archivist.post("/archive/exports", export_form(branch, today, today))
    assert response.status_code == 303
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert response.headers["Location"] == f"/archive/exports/{job_id}"
    job = job_row(app, job_id)
    assert (job["status"], job["total"], job["done"], job["error"]) == ("done", 2, 2, None)

    page = archivist.get(f"/archive/exports/{job_id}")
    body = page.get_data(as_text=True)
    assert "已完成 2 / 2" in body and 'hx-trigger="every 1s"' not in body
    assert f"/archive/exports/{job_id}/download" in page_of(page).urls

    download = archivist.get(f"/archive/exports/{job_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert hashlib.sha256(download.data).hexdigest() == job["sha256"]
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = sorted(archive.namelist())
        assert names == sorted([f"DA0101-{first}-v1.pdf", f"DA0101-{second}-v1.pdf"])
        assert all(archive.read(name).startswith(b"%PDF-") for name in names)
    exports = [r for r in lending(app) if r["action"] == "export"]
    assert sorted(r["customer_no"] for r in exports) == sorted([first, second])
    assert all(r["purpose"] == "监管检查：现场检查" and r["export_job_id"] == job_id and r["dossier_id"]
               and r["staff_id"] == staff_id(app, "archivist") for r in exports)
    assert SEEDED_NO not in {r["customer_no"] for r in lending(app)}

    listing = archivist.get("/archive/exports").get_data(as_text=True)
    assert f"/archive/exports/{job_id}" in listing and "已完成" in listing


def test_export_route_queues_a_job_and_returns_at_once(app, monkeypatch, branch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)  # a worker beside the app runs it
    today = business_today().isoformat()
    response = login_as(app, "archivist").post("/archive/exports", export_form(branch, today, today))
    assert response.status_code == 303
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert job_row(app, job_id)["status"] == "queued"
    archivist_id = staff_id(app, "archivist")
    with app.app_context():
        [queued] = db.session.scalars(select(jobs.Job))
        assert (queued.kind, queued.status, queued.params) == ("archive.export", "queued", {"export_job_id": job_id})
        assert queued.requested_by_id == archivist_id


def test_a_queued_export_runs_once_in_the_job_worker(app, monkeypatch, branch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    pdf_bytes = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
    archivist_id = staff_id(app, "archivist")
    with app.app_context():
        # A dossier already kept for the seeded customer: the export takes it and renders nothing.
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == SEEDED_NO))
        stored = files.store(pdf_bytes, allowed={"application/pdf"}, max_bytes=10**6)
        db.session.add(Dossier(customer_id=customer.id, version=1, archive_no=f"DA0101-{SEEDED_NO}", sha256=stored.sha256,
                               size=stored.size, pages=1, record_sha256="0" * 64,
                               generated_by_id=archivist_id))
        customer.created_at = utcnow()
        db.session.commit()
    today = business_today().isoformat()
    response = login_as(app, "archivist").post("/archive/exports", export_form(branch, today, today))
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        assert jobs.run_due() == 1
    job = job_row(app, job_id)
    assert (job["status"], job["total"], job["done"]) == ("done", 1, 1)
    with app.app_context():
        assert jobs.run_due() == 0  # nothing is left to run
        services.run_export(job_id)  # and a finished export run again does nothing
    assert job_row(app, job_id) == job
    assert [r["customer_no"] for r in lending(app) if r["action"] == "export"] == [SEEDED_NO]


def test_an_export_of_a_range_without_customers_is_refused_with_a_reason(app, inline_exports, branch):
    response = login_as(app, "archivist").post("/archive/exports", export_form(branch, "2020-01-01", "2020-01-31"))
    with app.app_context():
        statuses = list(db.session.scalars(select(ExportJob.status)))
    assert response.status_code == 422 and "该日期范围内没有" in response.get_data(as_text=True)
    assert statuses == []


# --- progress ------------------------------------------------------------------------------------

def test_progress_of_a_running_job_polls_every_second(app):
    job_id = make_job(app, status=ExportStatus.RUNNING, total=3, done=1)
    archivist = login_as(app, "archivist")
    response = archivist.get(f"/archive/exports/{job_id}", htmx=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="export-progress"') and "<html" not in body
    assert 'hx-trigger="every 1s"' in body and f'hx-get="/archive/exports/{job_id}"' in body
    assert '<progress aria-label="导出进度" value="1" max="3">' in body and "已完成 1 / 3" in body
    assert "/download" not in body
    assert login_as(app, "archivist").get(f"/archive/exports/{job_id}/download").status_code == 404


def test_progress_of_a_finished_job_offers_the_download_and_stops_polling(app):
    job_id = make_job(app, status=ExportStatus.DONE, total=1, done=1, zip_bytes=small_zip())
    body = login_as(app, "archivist").get(f"/archive/exports/{job_id}", htmx=True).get_data(as_text=True)
    assert "hx-trigger" not in body and "已完成 1 / 1" in body
    assert f'href="/archive/exports/{job_id}/download"' in body


def test_progress_of_a_failed_job_shows_why_and_stops_polling(app):
    job_id = make_job(app, status=ExportStatus.FAILED, total=2, done=1)
    with app.app_context():
        db.session.get(ExportJob, job_id).error = "磁盘已满"
        db.session.commit()
    body = login_as(app, "archivist").get(f"/archive/exports/{job_id}", htmx=True).get_data(as_text=True)
    assert "hx-trigger" not in body and "导出失败：磁盘已满" in body and "/download" not in body


# --- who gets the zip ----------------------------------------------------------------------------

def test_only_the_requester_and_hq_see_and_download_an_export(app):
    zip_bytes = small_zip()
    job_id = make_job(app, status=ExportStatus.DONE, total=1, done=1, zip_bytes=zip_bytes)
    add_staff(app, "archivist2", Role.ARCHIVIST, "0101", "吴档案")
    colleague = login_as(app, "archivist2")
    assert colleague.get(f"/archive/exports/{job_id}").status_code == 404
    assert colleague.get(f"/archive/exports/{job_id}/download").status_code == 404
    assert str(job_id) not in page_of(colleague.get("/archive/exports")).html.split('id="export-list"')[1][:200]
    for username in ("manager", "clerk"):
        assert login_as(app, username).get(f"/archive/exports/{job_id}/download").status_code == 403
    for username in ("archivist", "admin"):
        response = login_as(app, username).get(f"/archive/exports/{job_id}/download")
        assert response.status_code == 200 and response.data == zip_bytes, username
        assert response.headers["Content-Disposition"] == f"attachment; filename=archive-export-{job_id}.zip"
        assert response.headers["Cache-Control"] == "no-store"


# --- the form ------------------------------------------------------------------------------------

def test_export_form_offers_a_branch_archivist_only_the_own_branch(app):
    body = login_as(app, "archivist").get("/archive/exports").get_data(as_text=True)
    assert "北京朝阳门营业部" in body and "上海浦东营业部" not in body


@pytest.mark.parametrize("change, field, message", [
    ({"purpose": ""}, "purpose", "请选择借阅目的"),
    ({"purpose": "other", "detail": ""}, "detail", "选择“其他”时请写明借阅目的"),
    ({"date_from": ""}, "date_from", "请选择开始日期"),
    ({"date_to": "2026-02-30"}, "date_to", "请输入正确的日期（年-月-日）"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to", "结束日期不能早于开始日期"),
    ({"branch": "shanghai"}, "branch", "只能选择本营业部"),
])
def test_export_form_refuses_what_cannot_be_exported_next_to_the_field(app, change, field, message, branch):
    data = {**export_form(branch, "2026-03-01", "2026-03-31"), **change}
    response = login_as(app, "archivist").post("/archive/exports", data)
    assert response.status_code == 422
    assert page_of(response).errors_for(field) == [message]
    with app.app_context():
        assert db.session.scalar(select(ExportJob.id)) is None


def test_a_branch_archivist_cannot_export_another_branch(app):
    with app.app_context():
        shanghai = db.session.scalar(select(Staff.branch_id).where(Staff.username == "clerk_sh"))
    response = login_as(app, "archivist").post("/archive/exports", export_form(shanghai, "2026-03-01", "2026-03-31"))
    assert response.status_code == 422
    assert page_of(response).errors_for("branch") == ["只能选择本营业部"]


@pytest.mark.parametrize("username", ["manager", "clerk", "admin"])
def test_only_archivists_start_exports(app, username, branch):
    other = login_as(app, username)
    assert other.get("/archive/exports").status_code == 403
    assert other.post("/archive/exports", export_form(branch, "2026-03-01", "2026-03-31")).status_code == 403
