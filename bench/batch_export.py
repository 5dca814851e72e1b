"""Dossiers per minute: the render pool with 1 and 2 processes, and a whole batch export through the job engine.

Usage:
    .venv/bin/python bench/batch_export.py [--dossiers 40] [--customers 200] [--processes 1,2] [--skip-export]

1. Render pool: --dossiers distinct 11-page dossiers (bench/dossier_pdf.py's realistic ones), rendered by
   core.pdf.pool with each process count, beside stock WeasyPrint (weasyprint.HTML(...).write_pdf()) on
   the same HTML with as many processes, measured in the same run. Each process renders one dossier to
   warm up before the clock starts.
2. Batch export: --customers customers opened on one day (bench/crm_data.py), exported as one job of the
   job engine (core.jobs; archive.export), the dossiers rendered in the pool: once per process count, the
   dossiers deleted in between so that every one is rendered again. Reports dossiers per minute, pages
   per dossier and the peak memory of the worker and of each render process.

The database is a temporary SQLite file unless DATABASE_URL names one (wiped). Prints one table.
"""
import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CREATED = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def vm_hwm_mb(pid: int) -> float:
    """A process's peak resident memory, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class PeakSampler(threading.Thread):
    """The largest peak memory of any render process while it runs: the pool replaces its processes
    (JOB_RENDERS_PER_PROCESS), so they are looked at every quarter of a second, not once at the end."""

    def __init__(self, processes_of):
        super().__init__(daemon=True)
        self.processes_of, self.peak, self.stopped = processes_of, 0.0, threading.Event()

    def run(self):
        while not self.stopped.wait(0.25):
            self.sample()

    def sample(self):
        for pid in list(self.processes_of()):
            self.peak = max(self.peak, vm_hwm_mb(pid))

    def stop(self) -> float:
        self.stopped.set()
        self.join()
        self.sample()
        return self.peak


def _stock(html: str) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=html, base_url=ROOT.as_uri() + "/").write_pdf()


def _noop() -> None:
    return None


def dossier_requests(count: int) -> list:
    from bench.dossier_pdf import context_and_record
    from blueprints.archive.dossier_pdf import render_dossier_html
    from core.pdf import pool, renderer

    env = renderer.template_environment()
    requests = []
    for seed in range(count):
        context, record = context_and_record(seed=seed)
        requests.append(pool.RenderRequest(
            html=render_dossier_html(env, context), base_url="kyc-file:", attachments=[renderer.record_attachment(record)],
            title="客户开户档案", author="华夏远景证券股份有限公司 北京朝阳门营业部", created=CREATED))
    return requests


def time_pool(requests: list, processes: int) -> dict:
    """Dossiers per minute of the render pool with `processes`, after one warm-up render per process."""
    from blueprints.archive.dossier_pdf import warm_up_process
    from core.pdf import pool

    renders = pool.RenderPool(processes, warm_up=warm_up_process, renders_per_process=pool.DEFAULT_RENDERS_PER_PROCESS)
    sampler = PeakSampler(lambda: renders._executor._processes)
    sampler.start()
    try:
        for future in [renders.submit(requests[index % len(requests)]) for index in range(processes)]:
            future.result()
        started = time.perf_counter()
        sizes = [future.result() for future in [renders.submit(request) for request in requests]]
        elapsed = time.perf_counter() - started
    finally:
        peak = sampler.stop()
        renders.shutdown()
    return {"per_minute": 60 * len(requests) / elapsed, "seconds": elapsed, "peak_mb": peak,
            "bytes": statistics.mean(len(data) for data in sizes)}


def time_stock(requests: list, processes: int) -> dict:
    """The same HTML through stock WeasyPrint in a plain process pool: the baseline."""
    with ProcessPoolExecutor(max_workers=processes) as executor:
        for future in [executor.submit(_stock, requests[index % len(requests)].html) for index in range(processes)]:
            future.result()
        started = time.perf_counter()
        for future in [executor.submit(_stock, request.html) for request in requests]:
            future.result()
        elapsed = time.perf_counter() - started
        peak = max(vm_hwm_mb(pid) for pid in executor._processes)
    return {"per_minute": 60 * len(requests) / elapsed, "seconds": elapsed, "peak_mb": peak}


def export_database(customers: int):
    """An app whose branch 0101 opened `customers` customers on one day; returns (app, day)."""
    from sqlalchemy import select, update

    from bench import crm_data
    from bench.common import fresh_app
    from blueprints.auth.models import Branch
    from blueprints.customers.models import Customer
    from core.extensions import db

    app = fresh_app(JOB_LEASE_SECONDS=30)
    with app.app_context():
        crm_data.generate(customers)
        db.session.commit()
        branch = db.session.scalar(select(Branch).where(Branch.code == "0101"))
        opened = datetime(2026, 11, 30, 4, 0)  # noon in Beijing
        db.session.execute(update(Customer).values(branch_id=branch.id, created_at=opened))
        db.session.commit()
    return app, opened.date()


def time_export(app, day, processes: int) -> dict:
    """Export the day's customers as one job, its dossiers rendered in a pool of `processes`."""
    from sqlalchemy import delete, func, select

    from blueprints.archive import jobs as archive_jobs
    from blueprints.archive import services
    from blueprints.archive.dossier_pdf import warm_up_process
    from blueprints.archive.models import Dossier, ExportJob, LendingRecord
    from blueprints.auth.models import Staff
    from core import jobs
    from core.extensions import db
    from core.pdf import pool

    with app.app_context():
        db.session.execute(delete(LendingRecord))
        db.session.execute(delete(Dossier))
        db.session.commit()
        actor = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        with app.test_request_context(method="POST"):  # a request that writes
            export = services.start_export(actor, actor.branch_id, day, day, "内部审计：性能测试")
            jobs.enqueue(archive_jobs.EXPORT, {"export_job_id": export.id}, requested_by=actor)
            db.session.commit()
        export_id = export.id
        renders = pool.start(processes, warm_up=warm_up_process)
        sampler = PeakSampler(lambda: renders._executor._processes)
        sampler.start()
        try:
            for future in [pool.submit(dossier_requests(1)[0]) for _ in range(processes)]:
                future.result()  # warm
            started = time.perf_counter()
            assert jobs.run_due() == 1
            elapsed = time.perf_counter() - started
        finally:
            render_mb = sampler.stop()
            pool.stop()
        export = db.session.get(ExportJob, export_id)
        assert export.status == "done", export.error
        pages = db.session.scalar(select(func.avg(Dossier.pages)))
    return {"per_minute": 60 * export.total / elapsed, "seconds": elapsed, "dossiers": export.total,
            "pages": float(pages or 0), "worker_mb": vm_hwm_mb(os.getpid()), "render_mb": render_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=40)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file (bench/report.py reads it)")
    args = parser.parse_args()
    figures = {"pool": {}, "stock": {}, "export": {}}
    counts = [int(value) for value in args.processes.split(",")]
    print(f"machine: {os.cpu_count()} cores; {args.dossiers} distinct 11-page dossiers; "
          f"export of {args.customers} customers")

    requests = dossier_requests(args.dossiers)
    print(f"\n{'render pool (11-page dossiers)':<34}{'dossiers/min':>14}{'vs stock':>10}{'peak MB/process':>17}")
    for processes in counts:
        stock = figures["stock"][processes] = time_stock(requests, processes)
        ours = figures["pool"][processes] = time_pool(requests, processes)
        print(f"{'stock WeasyPrint, ' + str(processes) + ' process(es)':<34}{stock['per_minute']:>14.1f}"
              f"{'1.00':>10}{stock['peak_mb']:>17.0f}")
        print(f"{'core.pdf.pool, ' + str(processes) + ' process(es)':<34}{ours['per_minute']:>14.1f}"
              f"{ours['per_minute'] / stock['per_minute']:>10.2f}{ours['peak_mb']:>17.0f}")

    if args.skip_export:
        _write(args.json, figures)
        return
    app, day = export_database(args.customers)
    print(f"\n{'batch export (job engine)':<34}{'dossiers/min':>14}{'seconds':>10}{'pages':>7}"
          f"{'worker MB':>11}{'render MB':>11}")
    for processes in counts:
        result = figures["export"][processes] = time_export(app, day, processes)
        print(f"{str(result['dossiers']) + ' dossiers, ' + str(processes) + ' process(es)':<34}"
              f"{result['per_minute']:>14.1f}{result['seconds']:>10.1f}{result['pages']:>7.1f}"
              f"{result['worker_mb']:>11.0f}{result['render_mb']:>11.0f}")
    _write(args.json, figures)


def _write(path: str | None, figures: dict) -> None:
    if path:
        import json

        Path(path).write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
