"""`flask audit-verify`: walk the audit trail's hash chain and name the first broken entry."""
import click
from flask.cli import with_appcontext

from core import audit
from core.extensions import db


@click.command("audit-verify")
@with_appcontext
def audit_verify_command():
    """Check every audit entry against the chain; exit 1 naming the first edited, missing or reordered one."""
    verdict = audit.verify_chain(db.session)
    db.session.rollback()
    if verdict.ok:
        head = f"; head seq {verdict.head.seq} hash {verdict.head.hash}" if verdict.head else ""
        click.echo(f"OK: {verdict.count} entries intact{head}")
        return
    where = f"seq {verdict.broken_seq}" + (f" (id {verdict.broken_id})" if verdict.broken_id is not None else "")
    click.echo(f"BROKEN at entry {where}: {verdict.problem}: {verdict.explanation}; "
               f"the {verdict.count} entries before it are intact", err=True)
    raise SystemExit(1)
