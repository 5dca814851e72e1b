"""`flask jobs worker` (runs beside the web server: scripts/serve) and `flask jobs status`."""
import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.pdf import pool
from core.timeutil import utcnow

jobs_cli = AppGroup("jobs", help="Background jobs: dossiers, slips, exports, imports, scheduled work.")


@jobs_cli.command("worker")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Jobs run at once by this process (default JOB_THREADS, 2).")
@click.option("--render-processes", type=click.IntRange(min=0), default=None,
              help="Processes that render PDFs (default JOB_RENDER_PROCESSES, else one per core; 0: in the job's thread).")
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option("--poll", default=0.5, show_default=True, help="Seconds to wait when nothing is due.")
def worker_command(threads, render_processes, once, poll):
    """Claim and run queued jobs until stopped (SIGTERM or Ctrl-C: the running jobs finish first)."""
    from blueprints import scheduled
    from blueprints.archive.dossier_pdf import warm_up_process

    logging.basicConfig(level=logging.INFO, format="%(asctime)s jobs-worker %(levelname)s %(message)s")
    config = current_app.config
    threads = threads or config["JOB_THREADS"]
    render_processes = render_processes if render_processes is not None else config["JOB_RENDER_PROCESSES"]
    if once:
        scheduled.tick()
        click.echo(f"ran {jobs.run_due()} jobs")
        return
    pool.start(render_processes, warm_up=warm_up_process, renders_per_process=config["JOB_RENDERS_PER_PROCESS"] or None)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    app = current_app._get_current_object()

    def loop(first: bool):
        with app.app_context():
            jobs.run_forever(poll_seconds=poll, stop=stopping.is_set, tick=scheduled.tick if first else None)

    runners = [threading.Thread(target=loop, args=(index == 0,), name=f"jobs-{index}", daemon=True)
               for index in range(threads)]
    for runner in runners:
        runner.start()
    click.echo(f"jobs worker running: {threads} threads, {pool.size()} render processes; Ctrl-C to stop")
    try:
        while not stopping.wait(1):
            if not all(runner.is_alive() for runner in runners):
                raise click.ClickException("a job thread died")
    except KeyboardInterrupt:
        stopping.set()
    finally:
        stopping.set()
        for runner in runners:
            runner.join(timeout=60)
        pool.stop()


@jobs_cli.command("status")
def status_command():
    """Count the jobs by kind and status, and list the running ones with their worker and lease."""
    rows = db.session.execute(select(jobs.Job.kind, jobs.Job.status, func.count()).group_by(jobs.Job.kind, jobs.Job.status)
                              .order_by(jobs.Job.kind, jobs.Job.status))
    for kind, status, count in rows:
        click.echo(f"{kind:<28} {status:<8} {count}")
    now = utcnow()
    for job in db.session.scalars(select(jobs.Job).where(jobs.Job.status == jobs.JobStatus.RUNNING)):
        left = (job.lease_until - now).total_seconds() if job.lease_until else 0
        click.echo(f"running #{job.id} {job.kind} on {job.worker} (attempt {job.attempts}, "
                   f"{job.done}/{job.total or '?'}, lease {'%.0f s left' % left if left > 0 else 'expired'})")
