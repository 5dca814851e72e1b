"""`flask grading recompute` (for cron) and `flask grading import` (files too large for the browser)."""
import click
from flask.cli import with_appcontext
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.grading import imports, services
from core.extensions import db

grading_cli = click.Group("grading", help="Customer grading: recompute grades, import holdings and prices.")


@grading_cli.command("recompute")
@with_appcontext
def recompute_command():
    """Value every customer's holdings and recompute all grades (run daily after the prices are in)."""
    summary = services.recompute(trigger="schedule", commit_each_chunk=True)
    db.session.commit()
    if summary.day is None:
        raise click.ClickException("no trading days yet: import prices first")
    click.echo(f"valued on {summary.day}: {summary.customers} customers, {summary.changed} grade changes")


@grading_cli.command("import")
@click.argument("kind", type=click.Choice(["holdings", "prices", "index", "commissions"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "username", required=True, help="the staff member the import is recorded under")
@with_appcontext
def import_command(kind: str, path: str, username: str):
    """Import a CSV or .xlsx file the same way the import screen does, in this process."""
    actor = db.session.scalar(select(Staff).where(Staff.username == username))
    if actor is None:
        raise click.ClickException(f"no staff member {username!r}")
    with open(path, "rb") as stream:
        try:
            job = imports.start_import(actor, kind, path, stream, max_bytes=1 << 40)
        except imports.ImportRefused as refused:
            raise click.ClickException(str(refused)) from None
    db.session.commit()
    job_id = job.id
    imports.run_import(job_id)
    job = imports.find_job(actor, job_id)
    click.echo(f"import {job.id}: {job.status} rows={job.rows_read} bad={job.rows_bad} imported={job.rows_imported}")
    if job.rows_bad:
        for error in imports.job_errors(job, 20):
            click.echo(f"  row {error.row_no}: {error.reason}")
        raise SystemExit(1)
