"""Measure a holdings import: a million CSV rows and a 100k-row .xlsx, time and peak memory.

Usage:
    .venv/bin/python bench/holdings_import.py [--rows 1000000] [--xlsx-rows 100000] [--customers 20000] [--dir DIR]

Builds a fresh SQLite database (migrated, demo seed, --customers customers), writes the files
(streamed), then runs each import in its own child process through the same function the
import screen's worker calls (grading.imports.run_import), and prints the wall time and the
child's peak RSS, and the CPU seconds the import used (on a shared machine the wall time also
counts waiting for a CPU). Every row is valid, so the whole path runs: read, check, stage, repeat
check, swap in.
"""
import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ["客户号", "资金账号", "证券代码", "持仓数量", "成本价", "持仓类型", "上市流通代码", "锁定期开始日", "锁定期结束日"]


def customer_no(index: int) -> str:
    return f"B{index:010d}"


def rows(count: int, customers: int):
    """Row k: customer k mod N, security 600000 + k div N: never the same pair twice."""
    for k in range(count):
        yield [customer_no(k % customers), "", f"{600000 + k // customers:06d}", str(100 * (1 + k % 50)),
               f"{10 + (k % 997) / 100:.2f}", "上市流通", "", "", ""]


def write_csv(path: str, count: int, customers: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows(count, customers))


def write_xlsx(path: str, count: int, customers: int) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in rows(count, customers):
        sheet.append(row)
    book.save(path)


def app_for(db_path: str, files_dir: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench",
                       "DATA_KEY": "bench-data-key", "FILE_STORE": files_dir})


def prepare(db_path: str, files_dir: str, customers: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from blueprints.home.demo import seed_demo
    from blueprints.auth.models import Branch
    from blueprints.customers.models import Customer
    from core.extensions import db

    app = app_for(db_path, files_dir)
    with app.app_context():
        upgrade()
        seed_demo()
        branch_id = db.session.scalar(select(Branch.id).where(Branch.code == "0101"))
        batch = [{"customer_no": customer_no(i), "branch_id": branch_id, "kind": "current", "profile_version": 1}
                 for i in range(customers)]
        db.session.execute(insert(Customer), batch)
        db.session.commit()


def run_one(db_path: str, files_dir: str, path: str) -> None:
    """In the child: queue the import as HQ and run it; print the outcome."""
    from sqlalchemy import select

    from blueprints.auth.models import Staff
    from blueprints.grading import imports
    from core.extensions import db

    app = app_for(db_path, files_dir)
    with app.app_context():
        admin = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        started = time.perf_counter()
        with open(path, "rb") as stream:
            job = imports.start_import(admin, "holdings", path, stream, max_bytes=1 << 40)
        db.session.commit()
        imports.run_import(job.id)
        job = imports.find_job(admin, job.id)
        elapsed = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu_before
        print(f"{os.path.basename(path)}: status={job.status} rows={job.rows_read} bad={job.rows_bad} "
              f"imported={job.rows_imported} time={elapsed:.1f}s cpu={cpu:.1f}s peak_rss={usage.ru_maxrss / 1024:.0f}MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--dir", default=None, help="where the database and files go (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, metavar=("DB", "FILES", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(*args.child)
        return
    work = args.dir or tempfile.mkdtemp(prefix="holdings-bench-")
    db_path, files_dir = os.path.join(work, "bench.sqlite3"), os.path.join(work, "files")
    started = time.perf_counter()
    prepare(db_path, files_dir, args.customers)
    csv_path, xlsx_path = os.path.join(work, "holdings.csv"), os.path.join(work, "holdings.xlsx")
    write_csv(csv_path, args.rows, args.customers)
    write_xlsx(xlsx_path, args.xlsx_rows, args.customers)
    print(f"prepared {args.customers} customers, {args.rows} CSV rows ({os.path.getsize(csv_path) / 1e6:.0f} MB), "
          f"{args.xlsx_rows} xlsx rows ({os.path.getsize(xlsx_path) / 1e6:.0f} MB) in {time.perf_counter() - started:.0f}s")
    for path in (csv_path, xlsx_path):
        subprocess.run([sys.executable, __file__, "--child", db_path, files_dir, path], check=True)


if __name__ == "__main__":
    main()
