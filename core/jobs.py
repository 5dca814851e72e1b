"""Background jobs: work a request queues and a worker does, on leases that expire.

The claim is the outbox's: a worker takes the oldest due job with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (on SQLite the write lock serialises claims), and holds it for a lease that a
heartbeat renews while the job runs. A worker that dies stops renewing; once the lease has run
out (JOB_LEASE_SECONDS, 15 s by default) the next worker to poll takes the job up again. Every
write a worker makes about its job names the job, the worker and the attempt ("fencing"): a
worker that lost its lease cannot finish a job that another is running.

Handlers are idempotent over attempts: what an attempt commits before it finishes must be safe
to meet again on the next one (see each handler). The last step of a handler and the job's
DONE are one transaction, so a finished job's result is there exactly once.
"""
import enum
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app, g, has_request_context, request
from sqlalchemy import ForeignKey, Index, String, Text, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1, C2
from core.crypto import EncryptedJSON
from core.extensions import db
from core.timeutil import utcnow

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 15
# A job whose workers died this often is not taken up again: it is failed for a person to look at.
MAX_ATTEMPTS = 3
# A request may say that a worker runs its jobs (the test suite's live server does): environ key.
WORKER_BESIDE = "kyc.jobs.worker_beside"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


STATUS_LABELS = {JobStatus.QUEUED: "排队中", JobStatus.RUNNING: "处理中", JobStatus.DONE: "已完成",
                 JobStatus.FAILED: "失败"}
ENDED = frozenset({JobStatus.DONE, JobStatus.FAILED})


class Job(db.Model):
    """One piece of background work: what to do (kind, params), who asked, how far it got, what came of it."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "status", "run_after"), Index("ix_job_subject", "subject_type", "subject_id"))

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    kind: Mapped[str] = mapped_column(String(48), info=C1)
    # Encrypted: a job's parameters may carry customer data (a slip's content).
    params: Mapped[dict] = mapped_column(EncryptedJSON, info=C2)
    # Queueing twice under one key gives the one job: a double submit, a scheduled run of a day.
    dedup_key: Mapped[str | None] = mapped_column(String(160), unique=True, info=C1)
    # What the job is about, for the screens that show its progress ("customer", 42).
    subject_type: Mapped[str | None] = mapped_column(String(32), info=C1)
    subject_id: Mapped[int | None] = mapped_column(info=C1)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.QUEUED, info=C1)
    attempts: Mapped[int] = mapped_column(default=0, info=C1)
    run_after: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    # The worker holding the job ("host:pid:thread") and until when, renewed by its heartbeat.
    worker: Mapped[str | None] = mapped_column(String(120), info=C1)
    lease_until: Mapped[datetime | None] = mapped_column(info=C1)
    done: Mapped[int] = mapped_column(default=0, info=C1)
    total: Mapped[int | None] = mapped_column(info=C1)
    result: Mapped[dict | None] = mapped_column(EncryptedJSON, info=C2)
    # Shown to the person who asked, in Chinese; the log has the trace.
    error: Mapped[str | None] = mapped_column(Text, info=C1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)
    started_at: Mapped[datetime | None] = mapped_column(info=C1)
    finished_at: Mapped[datetime | None] = mapped_column(info=C1)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[JobStatus(self.status)]

    @property
    def label(self) -> str:
        return KINDS[self.kind].label if self.kind in KINDS else self.kind

    @property
    def warning(self) -> bool:
        """Done, but with an outcome the person should look at (its kind says)."""
        definition = KINDS.get(self.kind)
        return self.status == JobStatus.DONE and bool(definition and definition.warns and definition.warns(self))

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(100 * self.done / self.total))


class JobFailed(Exception):
    """The job cannot be done; the message (Chinese) is shown to the person who asked. Not retried."""


class LeaseLost(Exception):
    """Another worker has taken the job over: this one stops and writes nothing more about it."""


@dataclass
class Kind:
    run: Callable  # run(context) -> dict | None, the result
    label: str  # what it does, for the screens: "生成档案"
    # Called in a transaction when the job ends failed, to put the business records in line.
    on_failed: Callable | None = None
    # What a finished job came to, in words for the person who asked: describe(job) -> str.
    describe: Callable | None = None
    # Whether a finished job's outcome is one to warn about (it ran, but could do nothing): warns(job) -> bool.
    warns: Callable | None = None


KINDS: dict[str, Kind] = {}


def kind(name: str, label: str, on_failed: Callable | None = None, describe: Callable | None = None,
         warns: Callable | None = None):
    """Register the handler of a job kind: `run(context)` returns the job's result (a dict) or None."""
    def register(run):
        KINDS[name] = Kind(run=run, label=label, on_failed=on_failed, describe=describe, warns=warns)
        return run
    return register


def describe(job: Job) -> str:
    """What the job came to, or is doing, in words."""
    definition = KINDS.get(job.kind)
    if job.status == JobStatus.FAILED:
        return job.error or "任务失败"
    if job.status == JobStatus.DONE and definition and definition.describe:
        return definition.describe(job)
    return job.status_label


def enqueue(kind_name: str, params: dict | None = None, *, dedup_key: str | None = None,
            subject: tuple[str, int] | None = None, requested_by=None) -> Job:
    """Queue a job in the caller's transaction: it runs only once that commits. With a dedup key already
    queued, the job queued under it is returned instead (whatever its state)."""
    if kind_name not in KINDS:
        raise KeyError(f"no job kind {kind_name!r}")
    if dedup_key:
        earlier = db.session.scalar(select(Job).where(Job.dedup_key == dedup_key))
        if earlier is not None:
            return earlier
    job = Job(kind=kind_name, params=params or {}, dedup_key=dedup_key,
              subject_type=subject[0] if subject else None, subject_id=subject[1] if subject else None,
              requested_by_id=getattr(requested_by, "id", requested_by), status=JobStatus.QUEUED,
              run_after=utcnow())
    db.session.add(job)
    db.session.flush()
    if has_request_context():
        g.setdefault("jobs_queued", []).append(job.id)
    return job


def retry(job: Job) -> bool:
    """Queue a failed job again in the caller's transaction, as if new (its attempts counted from zero), with
    the parameters it had. True when it was failed and is queued now; a job in any other state is left as it
    is, so a second click, or two people at once, queue it once."""
    requeued = db.session.execute(
        update(Job).where(Job.id == job.id, Job.status == JobStatus.FAILED)
        .values(status=JobStatus.QUEUED, run_after=utcnow(), attempts=0, done=0, error=None, result=None,
                worker=None, lease_until=None, started_at=None, finished_at=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(job)
    if requeued and has_request_context():
        g.setdefault("jobs_queued", []).append(job.id)
    return requeued


def latest(kind_name: str, subject: tuple[str, int], requested_by=None) -> Job | None:
    """The newest job of a kind about a subject (asked for by one person, when given)."""
    query = select(Job).where(Job.kind == kind_name, Job.subject_type == subject[0], Job.subject_id == subject[1])
    if requested_by is not None:
        query = query.where(Job.requested_by_id == getattr(requested_by, "id", requested_by))
    return db.session.scalar(query.order_by(Job.id.desc()).limit(1))


def to_show(kind_name: str, subject: tuple[str, int], requested_by, ended_within: timedelta = timedelta(minutes=2)):
    """The job a page shows its asker: their newest of the kind about the subject, while it runs and
    for a little while after it ended (so the page they come back to says how it went)."""
    job = latest(kind_name, subject, requested_by)
    if job is None or (job.ended and (job.finished_at or job.created_at) < utcnow() - ended_within):
        return None
    return job


def pending(kind_name: str, subject: tuple[str, int]) -> Job | None:
    """A job of a kind about a subject that is queued or running, if any."""
    return db.session.scalar(select(Job).where(
        Job.kind == kind_name, Job.subject_type == subject[0], Job.subject_id == subject[1],
        Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])).order_by(Job.id.desc()).limit(1))


# --- running -------------------------------------------------------------------------------------

def lease_seconds() -> float:
    return float(current_app.config.get("JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class Context:
    """What a handler gets: its parameters, and progress reports that also check the lease."""

    job_id: int
    params: dict
    requested_by_id: int | None
    worker: str
    attempt: int
    lost: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int | None = None) -> None:
        """Record how far the job got, in the handler's transaction (it commits it with its own work)."""
        self.check()
        values = {"done": done} if total is None else {"done": done, "total": total}
        if not self.update(values):
            raise LeaseLost(f"job {self.job_id} was taken over")

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"job {self.job_id} was taken over")

    def update(self, values: dict) -> bool:
        """Write to the job in the session's transaction, if this attempt still holds it."""
        result = db.session.execute(update(Job).where(self._mine()).values(**values)
                                    .execution_options(synchronize_session=False))
        return result.rowcount == 1

    # The fencing condition of this attempt.
    def _mine(self):
        return and_(Job.id == self.job_id, Job.worker == self.worker, Job.attempts == self.attempt,
                    Job.status == JobStatus.RUNNING)


@dataclass(frozen=True)
class Claimed:
    """What a worker took: read before the claim commits, so running it opens no transaction."""

    id: int
    kind: str
    params: dict
    requested_by_id: int | None
    attempt: int


def _claim(now: datetime, worker: str, only: list[int] | None = None) -> Claimed | None:
    """Take the oldest due job (or an abandoned one whose lease ran out); commit the claim."""
    due = or_(and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
              and_(Job.status == JobStatus.RUNNING, Job.lease_until < now))
    query = select(Job).where(due, Job.kind.in_(list(KINDS)))
    if only is not None:
        query = query.where(Job.id.in_(only))
    while True:
        job = db.session.scalar(query.order_by(Job.id).limit(1).with_for_update(skip_locked=True))
        if job is None or not (job.status == JobStatus.RUNNING and job.attempts >= MAX_ATTEMPTS):
            break
        log.error("job %s (%s) abandoned %s times: failed", job.id, job.kind, job.attempts)
        _fail(job, "任务多次在处理中中断，已停止重试，请联系系统管理员")
        db.session.commit()
    if job is None:
        db.session.commit()
        return None
    if job.status == JobStatus.RUNNING:
        log.warning("job %s (%s): the lease of %s ran out, taking it over", job.id, job.kind, job.worker)
    job.status, job.worker, job.attempts = JobStatus.RUNNING, worker, job.attempts + 1
    job.lease_until = now + timedelta(seconds=lease_seconds())
    job.started_at = job.started_at or now
    claimed = Claimed(id=job.id, kind=job.kind, params=dict(job.params or {}), requested_by_id=job.requested_by_id,
                      attempt=job.attempts)
    db.session.commit()
    return claimed


def _fail(job: Job, message: str) -> None:
    job.status, job.error, job.finished_at, job.lease_until = JobStatus.FAILED, message[:500], utcnow(), None
    hook = KINDS[job.kind].on_failed if job.kind in KINDS else None
    if hook:
        hook(job.params, message)


class _Heartbeat(threading.Thread):
    """Renews the lease of one running job on a connection of its own, until told to stop."""

    def __init__(self, app, context: Context, lease: float):
        super().__init__(name=f"job-heartbeat-{context.job_id}", daemon=True)
        self.app, self.context, self.lease = app, context, lease
        self.stopped = threading.Event()

    def run(self):
        with self.app.app_context():
            while not self.stopped.wait(self.lease / 3):
                try:
                    with db.engine.begin() as connection:
                        renewed = connection.execute(update(Job).where(self.context._mine()).values(
                            lease_until=utcnow() + timedelta(seconds=self.lease))).rowcount
                except Exception:  # the database may be restarting: the next beat tries again
                    log.exception("job %s: heartbeat failed", self.context.job_id)
                    continue
                if not renewed:
                    self.context.lost.set()
                    return


def run_job(job: Claimed, worker: str) -> JobStatus:
    """Run a claimed job to its end (or until its lease is lost); returns the status it ended in."""
    app = current_app._get_current_object()
    context = Context(job_id=job.id, params=job.params, requested_by_id=job.requested_by_id, worker=worker,
                      attempt=job.attempt)
    definition = KINDS[job.kind]
    heartbeat = _Heartbeat(app, context, lease_seconds())
    heartbeat.start()
    started = time.monotonic()
    try:
        try:
            result = definition.run(context)
            context.check()
            if not context.update({"status": JobStatus.DONE, "result": result, "finished_at": utcnow(),
                            "lease_until": None, "error": None}):
                raise LeaseLost(f"job {job.id} was taken over")
            db.session.commit()
            log.info("job %s (%s) done in %.1f s", job.id, job.kind, time.monotonic() - started)
            return JobStatus.DONE
        except LeaseLost:
            db.session.rollback()
            log.warning("job %s (%s): lease lost, leaving it to the worker that took it", job.id, job.kind)
            return JobStatus.RUNNING
        except Exception as error:
            db.session.rollback()
            message = str(error) if isinstance(error, JobFailed) else _failure_message(error)
            if not isinstance(error, JobFailed):
                log.exception("job %s (%s) failed", job.id, job.kind)
            mine = db.session.scalar(select(Job).where(context._mine()).with_for_update())
            if mine is not None:
                _fail(mine, message)
            db.session.commit()
            return JobStatus.FAILED
    finally:
        heartbeat.stopped.set()


def _failure_message(error: Exception) -> str:
    known = getattr(error, "job_message", None)
    return known or "任务处理出错，已记录日志，请联系系统管理员"


def run_once(worker: str | None = None, only: list[int] | None = None) -> Claimed | None:
    """Claim and run one due job; returns what it claimed (None when nothing was due). Call inside an app context."""
    worker = worker or worker_name()
    job = _claim(utcnow(), worker, only)
    if job is None:
        return None
    run_job(job, worker)
    return job


def run_due(only: list[int] | None = None, limit: int = 100) -> int:
    """Run due jobs one after another until none is left (or `limit`); returns how many ran."""
    ran = 0
    while ran < limit and run_once(only=only) is not None:
        ran += 1
    return ran


def run_queued_by_this_request() -> None:
    """Run the jobs this request queued, now, when no worker runs beside this app (JOBS_EAGER: the tests)."""
    queued = g.pop("jobs_queued", None)
    if not queued or not current_app.config.get("JOBS_EAGER") or request.environ.get(WORKER_BESIDE):
        return
    run_due(only=queued)


def run_forever(poll_seconds: float = 0.5, stop: Callable[[], bool] = lambda: False,
                tick: Callable[[], None] | None = None) -> None:
    """One worker loop: claim, run, repeat; sleep a little (with jitter) when nothing is due."""
    worker = worker_name()
    while not stop():
        try:
            if tick:
                tick()
            job = run_once(worker)
        except Exception:  # the database may be restarting: log, wait, go on
            log.exception("job run failed")
            db.session.rollback()
            job = None
        if job is None:
            time.sleep(poll_seconds * random.uniform(0.8, 1.2))
        db.session.remove()


def enqueue_once(kind_name: str, dedup_key: str, params: dict | None = None) -> bool:
    """Queue a job under a key unless any worker already did; for scheduled work. Commits."""
    try:
        with db.session.begin_nested():
            if db.session.scalar(select(Job.id).where(Job.dedup_key == dedup_key)) is not None:
                return False
            db.session.add(Job(kind=kind_name, params=params or {}, dedup_key=dedup_key, status=JobStatus.QUEUED,
                               run_after=utcnow()))
        db.session.commit()
        return True
    except IntegrityError:  # another worker queued it between the check and the insert
        db.session.rollback()
        return False
