"""Pages that queue jobs: what they show while the worker has not run yet, and once it has."""
from sqlalchemy import func, select

from blueprints.archive.models import Dossier
from blueprints.changes.models import CustomerChange
from core import jobs
from core.extensions import db
from tests.changes.test_change_requests import NEW_MOBILE, _review, _submit_ordinary
from tests.changes.test_change_requests import customer_no, file_store  # noqa: F401  (fixtures)
from tests.requests.helpers import add_staff, login_as
from tests.requests.test_archive import SEEDED_NO, file_url, give_purpose


def _jobs(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(job.kind, job.status) for job in db.session.scalars(select(jobs.Job).order_by(jobs.Job.id))]


def _run(app) -> int:
    with app.app_context():
        return jobs.run_due()


def test_a_double_click_on_generate_queues_one_dossier_and_the_file_shows_its_progress(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    archivist = login_as(app, "archivist")
    give_purpose(archivist, SEEDED_NO)
    assert archivist.post(f"{file_url(SEEDED_NO)}/dossiers").status_code == 303
    assert archivist.post(f"{file_url(SEEDED_NO)}/dossiers").status_code == 303
    assert _jobs(app) == [("archive.dossier", "queued")]
    page = archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)
    assert "生成档案排队中" in page and 'hx-trigger="every 1s"' in page

    assert _run(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Dossier)) == 1
        job_id = db.session.scalar(select(jobs.Job.id))
    polled = archivist.get(f"/jobs/{job_id}", htmx=True)
    assert polled.status_code == 200 and polled.headers["HX-Trigger"] == "job-ended"
    assert "已生成档案第 1 版" in polled.get_data(as_text=True) and "every 1s" not in polled.get_data(as_text=True)
    versions = archivist.get(f"{file_url(SEEDED_NO)}/dossiers", htmx=True).get_data(as_text=True)
    assert 'data-version="1"' in versions and "<html" not in versions
    # Coming back to the file: the outcome is still said, for a little while.
    assert "已生成档案第 1 版" in archivist.get(file_url(SEEDED_NO)).get_data(as_text=True)


def test_a_job_is_shown_to_its_branch_and_hq_only(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    archivist = login_as(app, "archivist")
    give_purpose(archivist, SEEDED_NO)
    archivist.post(f"{file_url(SEEDED_NO)}/dossiers")
    with app.app_context():
        job_id = db.session.scalar(select(jobs.Job.id))
    assert archivist.get(f"/jobs/{job_id}").status_code == 200
    assert login_as(app, "manager").get(f"/jobs/{job_id}").status_code == 200  # the same branch
    assert login_as(app, "admin").get(f"/jobs/{job_id}").status_code == 200
    assert login_as(app, "clerk_sh").get(f"/jobs/{job_id}").status_code == 404
    assert login_as(app, "clerk_sh").get("/jobs/999999").status_code == 404
    assert app.test_client().get(f"/jobs/{job_id}").status_code in (302, 401)


def test_recomputing_every_grade_runs_as_one_job_and_the_rules_page_says_how_it_went(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    admin = login_as(app, "admin")
    assert admin.post("/grading/recompute").status_code == 303
    assert admin.post("/grading/recompute").status_code == 303  # asked again while queued: the same job
    assert _jobs(app) == [("grading.recompute", "queued")]
    assert "重新计算客户级别排队中" in admin.get("/grading/rules").get_data(as_text=True)
    assert _run(app) == 1
    assert "尚无行情数据" in admin.get("/grading/rules").get_data(as_text=True)


def test_the_slip_is_printed_by_the_worker_and_the_change_page_waits_for_it(app, auth, customer_no, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    assert _review(auth, reference).status_code == 303
    assert auth.get(f"/changes/{reference}/slip.pdf").status_code == 404  # not printed yet
    detail = auth.get(f"/changes/{reference}").get_data(as_text=True)
    assert "打印确认单排队中" in detail and 'hx-trigger="job-ended from:body"' in detail
    assert _jobs(app) == [("changes.slip", "queued")]
    assert _run(app) == 1
    with app.app_context():
        assert db.session.scalar(select(CustomerChange.slip_sha256).where(CustomerChange.reference == reference))
    assert auth.get(f"/changes/{reference}/slip.pdf").mimetype == "application/pdf"
    assert "打印确认单排队中" not in auth.get(f"/changes/{reference}").get_data(as_text=True)


def test_another_branchs_staff_cannot_follow_an_export(app, monkeypatch):
    add_staff(app, "archivist_sh", "archivist", "0201", "沈档案")
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    from tests.requests.test_archive_export import make_job

    export_id = make_job(app)
    with app.app_context():
        job = jobs.enqueue("archive.export", {"export_job_id": export_id}, requested_by=None)
        db.session.commit()
        job_id = job.id
    assert login_as(app, "archivist_sh").get(f"/jobs/{job_id}").status_code == 404


def test_a_slip_whose_render_failed_is_printed_again_once_by_the_clerk(app, auth, customer_no, monkeypatch):  # noqa: F811
    from blueprints.changes import jobs as change_jobs
    from core.models import AuditEvent
    from core.pdf.renderer import DossierUnavailable

    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    assert _review(auth, reference).status_code == 303
    real_render = change_jobs.pool.render

    def unavailable(_request):
        raise DossierUnavailable("档案生成服务暂不可用")

    monkeypatch.setattr(change_jobs.pool, "render", unavailable)
    assert _run(app) == 1
    assert _jobs(app) == [("changes.slip", "failed")]
    detail = auth.get(f"/changes/{reference}").get_data(as_text=True)
    assert "打印确认单失败：档案生成服务暂不可用" in detail and 'id="retry-slip"' in detail
    # Only the counter may ask for it again; the reviewer sees the failure without the button.
    reviewer = login_as(app, "reviewer")
    assert 'id="retry-slip"' not in reviewer.get(f"/changes/{reference}").get_data(as_text=True)
    assert reviewer.post(f"/changes/{reference}/slip/retry").status_code == 403
    assert login_as(app, "clerk_sh").post(f"/changes/{reference}/slip/retry").status_code == 404

    # A double click queues the one job again, once.
    assert auth.post(f"/changes/{reference}/slip/retry").status_code == 303
    assert auth.post(f"/changes/{reference}/slip/retry").status_code == 303
    assert _jobs(app) == [("changes.slip", "queued")]
    detail = auth.get(f"/changes/{reference}").get_data(as_text=True)
    assert "打印确认单排队中" in detail and 'id="retry-slip"' not in detail and "失败" not in detail
    with app.app_context():
        job = db.session.scalar(select(jobs.Job))
        assert (job.attempts, job.error, job.finished_at) == (0, None, None)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "customer_change.slip_retry")) == 1

    monkeypatch.setattr(change_jobs.pool, "render", real_render)
    assert _run(app) == 1
    assert _jobs(app) == [("changes.slip", "done")]
    assert auth.get(f"/changes/{reference}/slip.pdf").mimetype == "application/pdf"
    # Printed: there is nothing to print again.
    assert auth.post(f"/changes/{reference}/slip/retry").status_code == 404


def test_only_a_failed_job_is_queued_again(app):
    with app.app_context():
        job = jobs.enqueue("grading.recompute")
        db.session.commit()
        assert jobs.retry(job) is False and job.status == jobs.JobStatus.QUEUED
        job.status, job.attempts, job.error = jobs.JobStatus.FAILED, 3, "任务多次在处理中中断"
        db.session.commit()
        assert jobs.retry(job) is True
        assert (job.status, job.attempts, job.error) == (jobs.JobStatus.QUEUED, 0, None)
        assert jobs.retry(job) is False
        db.session.commit()
