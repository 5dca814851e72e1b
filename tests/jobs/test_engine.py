"""The job engine: claims on leases, fencing, retries, giving up, the schedule, several workers at once."""
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints import scheduled
from blueprints.archive.models import ExportJob, ExportStatus
from core import jobs
from core.extensions import db
from core.timeutil import BEIJING, utcnow
from tests.requests.test_archive_export import make_job

RAN: list[tuple[int, int, str]] = []  # (job id, attempt, worker) of every run of the test kinds
HOOKS: dict = {}


@jobs.kind("test.record", "测试任务")
def _record(context: jobs.Context) -> dict:
    RAN.append((context.job_id, context.attempt, context.worker))
    hook = HOOKS.get("during")
    if hook:
        hook(context)
    time.sleep(context.params.get("sleep", 0))
    return {"ran": context.attempt}


@jobs.kind("test.refuse", "测试任务")
def _refuse(_context: jobs.Context) -> None:
    raise jobs.JobFailed("对方系统拒绝：测试")


@jobs.kind("test.crash", "测试任务")
def _crash(_context: jobs.Context) -> None:
    raise RuntimeError("a bug")


@pytest.fixture(autouse=True)
def _reset():
    RAN.clear()
    HOOKS.clear()
    yield
    HOOKS.clear()


def queue(app, kind="test.record", count=1, **params) -> list[int]:
    with app.app_context():
        ids = [jobs.enqueue(kind, params).id for _ in range(count)]
        db.session.commit()
        return ids


def job(app, job_id: int) -> dict:
    with app.app_context():
        row = db.session.get(jobs.Job, job_id)
        return {"status": row.status, "attempts": row.attempts, "result": row.result, "error": row.error,
                "worker": row.worker, "lease_until": row.lease_until}


def test_a_job_runs_once_and_keeps_its_result(app):
    [job_id] = queue(app)
    with app.app_context():
        assert jobs.run_due() == 1
        assert jobs.run_due() == 0
    assert [ran[0] for ran in RAN] == [job_id]
    row = job(app, job_id)
    assert (row["status"], row["attempts"], row["result"], row["lease_until"]) == ("done", 1, {"ran": 1}, None)


def test_queueing_under_one_key_gives_the_one_job(app):
    with app.app_context():
        first = jobs.enqueue("test.record", dedup_key="once")
        second = jobs.enqueue("test.record", dedup_key="once")
        db.session.commit()
        assert first.id == second.id
        assert db.session.scalar(select(func.count()).select_from(jobs.Job)) == 1


def test_several_workers_at_once_never_run_a_job_twice(app):
    ids = queue(app, count=24, sleep=0.02)
    errors = []

    def worker():
        try:
            with app.app_context():
                jobs.run_due()
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(ran[0] for ran in RAN) == ids  # each once
    assert len({ran[2] for ran in RAN}) > 1  # and the work was shared
    with app.app_context():
        assert set(db.session.scalars(select(jobs.Job.status))) == {"done"}


def test_a_job_whose_worker_stopped_renewing_is_taken_over_after_the_lease(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_LEASE_SECONDS", 1.5)
    [job_id] = queue(app)
    with app.app_context():
        claimed = jobs._claim(utcnow(), "dead-host:1:1")  # claimed, then the worker died: no heartbeat
        assert claimed.id == job_id
        assert jobs.run_due() == 0  # its lease still holds
        time.sleep(1.6)
        assert jobs.run_due() == 1
    row = job(app, job_id)
    assert (row["status"], row["attempts"]) == ("done", 2) and row["worker"] != "dead-host:1:1"


def test_the_heartbeat_keeps_a_long_job_with_its_worker(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_LEASE_SECONDS", 0.6)
    [job_id] = queue(app, sleep=2.0)  # more than three leases
    def run():
        with app.app_context():
            jobs.run_due()

    runner = threading.Thread(target=run)
    runner.start()
    time.sleep(1.2)
    with app.app_context():
        assert jobs.run_due() == 0  # a second worker finds nothing to take
    runner.join(timeout=30)
    assert [ran[0] for ran in RAN] == [job_id] and job(app, job_id)["status"] == "done"


def test_a_worker_that_lost_its_lease_cannot_finish_the_job(app):
    [job_id] = queue(app)

    def taken_over(context):
        if context.attempt == 1:  # meanwhile another worker took the job (this one stalled past its lease)
            with app.app_context():
                db.session.execute(update(jobs.Job).where(jobs.Job.id == job_id).values(lease_until=utcnow()))
                db.session.commit()
                claimed = jobs._claim(utcnow() + timedelta(seconds=1), "other-host:2:2")
                assert claimed.attempt == 2
                jobs.run_job(claimed, "other-host:2:2")

    HOOKS["during"] = taken_over
    with app.app_context():
        claimed = jobs._claim(utcnow(), "slow-host:1:1")
        assert jobs.run_job(claimed, "slow-host:1:1") == jobs.JobStatus.RUNNING  # it stood down
    row = job(app, job_id)
    assert (row["status"], row["attempts"], row["worker"], row["result"]) == ("done", 2, "other-host:2:2", {"ran": 2})


def test_a_refusal_fails_the_job_with_its_message_and_a_bug_with_a_general_one(app):
    [refused] = queue(app, "test.refuse")
    [crashed] = queue(app, "test.crash")
    with app.app_context():
        assert jobs.run_due() == 2
    assert (job(app, refused)["status"], job(app, refused)["error"]) == ("failed", "对方系统拒绝：测试")
    assert job(app, crashed)["status"] == "failed" and "a bug" not in job(app, crashed)["error"]


def test_a_job_abandoned_too_often_is_failed_and_its_export_told(app):
    export_id = make_job(app)
    with app.app_context():
        row = jobs.enqueue("archive.export", {"export_job_id": export_id})
        row.status, row.attempts, row.lease_until = jobs.JobStatus.RUNNING, jobs.MAX_ATTEMPTS, utcnow()
        db.session.get(ExportJob, export_id).status = ExportStatus.RUNNING
        db.session.commit()
        job_id = row.id
        assert jobs.run_due() == 0
        export = db.session.get(ExportJob, export_id)
        assert (export.status, export.error) == ("failed", "任务多次在处理中中断，已停止重试，请联系系统管理员")
    assert job(app, job_id)["status"] == "failed"


def test_the_schedule_queues_each_period_once(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULE_ENABLED", True)
    early = datetime(2026, 12, 2, 0, 3, tzinfo=BEIJING)  # a Wednesday, before the daily hours
    evening = datetime(2026, 12, 2, 19, 30, tzinfo=BEIJING)
    with app.app_context():
        assert scheduled.tick(early) == []  # hourly work waits for its minute
        assert sorted(scheduled.tick(early.replace(minute=6))) == ["scheduled.escalate@2026-12-02T00"]
        assert sorted(scheduled.tick(evening)) == [
            "scheduled.escalate@2026-12-02T19", "scheduled.grading@2026-12-02",
            "scheduled.housekeeping@2026-12-02", "scheduled.mark_dormant@2026-12-02",
            "scheduled.restrict_expired@2026-12-02"]
        assert scheduled.tick(evening) == []  # another worker, or the same one again: nothing more
        saturday = datetime(2026, 12, 5, 19, 30, tzinfo=BEIJING)
        assert "scheduled.grading@2026-12-05" not in scheduled.tick(saturday)  # grades are valued on trading days
        assert jobs.run_due() == 10
        assert set(db.session.scalars(select(jobs.Job.status))) == {"done"}
