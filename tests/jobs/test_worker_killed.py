"""`flask jobs worker` killed with SIGKILL in the middle of a batch export: another worker finishes it, once."""
import io
import os
import signal
import subprocess
import time
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from blueprints.archive.models import Dossier, ExportJob, LendingRecord
from core import files, jobs
from core.extensions import db
from core.timeutil import business_today
from tests import factories
from tests.requests.helpers import login_as
from tests.requests.test_archive import active_customer
from tests.requests.test_archive_export import export_form

ROOT = Path(__file__).resolve().parents[2]
LEASE = 4


def _worker(app) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], FILE_STORE=app.config["FILE_STORE"],
               SECRET_KEY="test-secret", DATA_KEY="test-data-key", APP_MODE="production", REQUIRE_DURABLE_DATABASE="0",
               JOB_LEASE_SECONDS=str(LEASE), SCHEDULE_ENABLED="0")
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "jobs", "worker", "--threads", "1",
                             "--render-processes", "0", "--poll", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _export(app, export_id: int) -> tuple[ExportJob, jobs.Job]:
    with app.app_context():
        export = db.session.get(ExportJob, export_id)
        job = db.session.scalar(select(jobs.Job).where(jobs.Job.subject_type == "export_job",
                                                       jobs.Job.subject_id == export_id))
        db.session.expunge_all()
        return export, job


def _wait(condition, seconds: float, what: str, process=None):
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker ended: {process.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_an_export_whose_worker_was_killed_is_finished_by_another_within_the_lease(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_EAGER", False)
    numbers = sorted(active_customer(app, factories.identity(id_number=factories.make_id(birth="19880612", seq3=f"{2 * n + 11:03d}"),
                                                                 name=("王建国", "李秀英", "张伟", "陈静")[n]))
                     for n in range(4))
    archivist = login_as(app, "archivist")
    with app.app_context():
        from blueprints.auth.models import Staff

        branch = db.session.scalar(select(Staff.branch_id).where(Staff.username == "archivist"))
    today = business_today()
    response = archivist.post("/archive/exports", export_form(branch, (today - timedelta(days=1)).isoformat(),
                                                              today.isoformat()))
    export_id = int(response.headers["Location"].rsplit("/", 1)[1])

    first = _worker(app)
    try:
        _wait(lambda: (_export(app, export_id)[0].done or 0) >= 1, 120, "the first worker made no progress", first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        export, job = _export(app, export_id)
        assert export.status == "running" and job.status == "running" and job.attempts == 1
        assert export.done < export.total and export.total >= len(numbers)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = _worker(app)
    try:
        _wait(lambda: _export(app, export_id)[1].attempts == 2, LEASE + 10, "nobody took the job up", second)
        taken_after = time.monotonic() - killed_at
        _wait(lambda: _export(app, export_id)[0].status in ("done", "failed"), 180, "the export did not end", second)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=60)

    assert taken_after <= LEASE + 2  # the lease, and a poll or two
    export, job = _export(app, export_id)
    assert (export.status, export.done, job.status, job.attempts) == ("done", export.total, "done", 2)
    with app.app_context():
        with zipfile.ZipFile(io.BytesIO(files.read(export.sha256))) as archive:
            names = archive.namelist()
        exported = list(db.session.scalars(select(LendingRecord.customer_id).where(
            LendingRecord.export_job_id == export_id)))
        versions = dict(db.session.execute(select(Dossier.customer_id, func.count()).group_by(Dossier.customer_id)).all())
    assert len(names) == len(set(names)) == export.total
    assert all(number in " ".join(names) for number in numbers)
    assert len(exported) == len(set(exported)) == export.total  # registered once each, across both attempts
    assert set(versions.values()) == {1}  # no dossier made twice
