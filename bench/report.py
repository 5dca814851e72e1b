"""The whole system's numbers in one table, each beside its baseline measured in the same run.

Usage:
    bash bench/all                      # SQLite, then a throw-away PostgreSQL cluster (scripts/lib.sh)
    .venv/bin/python bench/report.py [--quick] [--databases sqlite,postgresql+psycopg://...]

For each database it runs, each in a process of its own and on a database of its own:
- bench/wizard_steps.py: every wizard step's p50 / p99 (in process), beside a bare Flask + Jinja2 page;
- bench/throughput.py: the main pages' requests/s and p95 under gunicorn, beside the bare page;
- bench/batch_export.py: dossiers per minute in the render pool and through a batch export with 1
  and 2 render processes, beside stock WeasyPrint; render process and job worker memory;
- bench/load_test.py: 50 staff for 60 s under scripts/serve: requests, 5xx, lost saves, worst p95.
The render pool does not depend on the database and runs once. --quick makes every part small
(a smoke test of the benchmarks, not numbers to keep).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def run(script: str, args: list[str], url: str | None) -> dict:
    out = Path(tempfile.mkdtemp(prefix="kyc-report-")) / "figures.json"
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    print(f"  running {script} {' '.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run([PYTHON, str(ROOT / "bench" / script), *args, "--json", str(out)], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite", help="comma-separated: sqlite and/or database URLs")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    q = args.quick
    rows = []  # (database, figure, value, baseline, ratio note)

    pool = run("batch_export.py", ["--dossiers", "4" if q else "40", "--skip-export"], None)
    for processes in ("1", "2"):
        ours, stock = pool["pool"][processes], pool["stock"][processes]
        rows.append(("—", f"11-page dossier renders, {processes} process(es), per minute",
                     f"{ours['per_minute']:.1f}", f"stock WeasyPrint {stock['per_minute']:.1f}",
                     f"{ours['per_minute'] / stock['per_minute']:.2f}×"))
    rows.append(("—", "render process peak memory, MB", f"{pool['pool']['1']['peak_mb']:.0f}",
                 f"stock {pool['stock']['1']['peak_mb']:.0f}", "target ≤ 200"))

    for database in args.databases.split(","):
        url = None if database == "sqlite" else database
        name = "SQLite" if url is None else "PostgreSQL"
        wizard = run("wizard_steps.py", ["--applications", "5" if q else "30", "--threads", "2"], url)
        rows.append((name, "wizard step p50 / p99, ms (in process)", f"{wizard['p50']:.1f} / {wizard['p99']:.1f}",
                     f"bare page {wizard['bare_p50']:.2f} / {wizard['bare_p99']:.2f}", ""))
        pages = run("throughput.py", ["--customers", "1000" if q else "10000", "--seconds", "3" if q else "10"], url)
        bare = pages.pop("bare Flask + Jinja2 page")
        for label, figures in pages.items():
            rows.append((name, f"{label}: req/s, p95 ms", f"{figures['rps']:.0f}, {figures['p95']:.0f}",
                         f"bare {bare['rps']:.0f}, {bare['p95']:.0f}", f"{figures['rps'] / bare['rps']:.2f}×"))
        export = run("batch_export.py", ["--dossiers", "2", "--customers", "10" if q else "200"], url)
        for processes in ("1", "2"):
            figures = export["export"][processes]
            rows.append((name, f"batch export of {figures['dossiers']} dossiers, {processes} render process(es), per minute",
                         f"{figures['per_minute']:.1f}", "", f"{figures['pages']:.1f} pages each"))
        rows.append((name, "job worker peak memory, MB", f"{export['export']['2']['worker_mb']:.0f}", "", ""))
        load = run("load_test.py", ["--staff", "10" if q else "50", "--seconds", "10" if q else "60",
                                    "--customers", "1000" if q else "10000"], url)
        worst = max(load["pages"].items(), key=lambda item: item[1]["p95"])
        rows.append((name, f"load test: {load['staff']} staff, {load['seconds']:.0f} s: requests/s, 5xx, lost saves",
                     f"{load['rps']:.1f}, {load['fivexx']}, {load['lost']}", "", "target 0 × 5xx, 0 lost"))
        rows.append((name, "load test: worst page p95, ms", f"{worst[1]['p95']:.0f} ({worst[0]})", "",
                     "target ≤ 200"))

    print(f"\n{os.cpu_count()} cores{' (quick: smoke figures)' if q else ''}")
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    header = ("database", "figure", "value", "baseline (same run)", "")
    widths = [max(width, len(title)) for width, title in zip(widths, header)]
    line = "| " + " | ".join(title.ljust(width) for title, width in zip(header, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()
