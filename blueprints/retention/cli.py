"""`flask archive purge|hold|release|retention`: the retention term of customer files, on the command line."""
import click
from flask.cli import AppGroup
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.retention import services
from core.extensions import db
from core.timeutil import business_today

archive_cli = AppGroup("archive", help="Customer files: retention terms, legal holds, the purge when both allow it.")


def _customer(customer_no: str) -> Customer:
    customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
    if customer is None:
        raise click.ClickException(f"no customer {customer_no}")
    return customer


def _staff(username: str) -> Staff:
    staff = db.session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.is_enabled:
        raise click.ClickException(f"no active staff member {username}")
    return staff


@archive_cli.command("purge")
@click.option("--before", "before", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Purge files whose retention term ended on or before this date (not after today).")
@click.option("--dry-run", is_flag=True, help="Report what would be purged; change nothing.")
@click.option("--customer", "customer_nos", multiple=True, help="Only these customers (numbers); repeatable.")
def purge_command(before, dry_run, customer_nos):
    """Erase the personal data of closed customers whose term has ended and that no legal hold keeps."""
    try:
        outcomes = services.purge(before.date(), dry_run=dry_run, customer_nos=list(customer_nos) or None)
    except services.RetentionRefused as refused:
        raise click.ClickException(str(refused)) from None
    done = [o for o in outcomes if o.purged]
    refused = [o for o in outcomes if not o.purged]
    for outcome in outcomes:
        verb = ("would purge" if dry_run else "purged") if outcome.purged else "refused"
        click.echo(f"{outcome.customer_no}\t{verb}\t{outcome.reason}")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(f"{'would purge' if dry_run else 'purged'} {len(done)}, refused {len(refused)} "
               f"(cutoff {before.date().isoformat()}, run on {business_today().isoformat()})")
    if customer_nos and refused:
        raise SystemExit(1)  # a customer asked for by number was not purged


def _hold_command(name, action, doc):
    @archive_cli.command(name, help=doc)
    @click.argument("customer_no")
    @click.option("--by", "username", required=True, help="The HQ administrator or archivist acting.")
    @click.option("--reason", required=True, help="Why (a court's file number, an authority's letter).")
    def command(customer_no, username, reason):
        customer, actor = _customer(customer_no), _staff(username)
        try:
            action(customer, actor, reason)
        except services.RetentionRefused as refused:
            db.session.rollback()
            raise click.ClickException(str(refused)) from None
        db.session.commit()
        click.echo(f"{customer_no}: {name} done")
    return command


_hold_command("hold", services.place_hold, "Place a legal hold (法律保全) on a customer's file.")
_hold_command("release", services.lift_hold, "Lift a customer's legal hold.")


@archive_cli.command("retention")
@click.argument("customer_no")
def retention_command(customer_no):
    """Say when a customer's file may be purged, and what keeps it."""
    customer = _customer(customer_no)
    decision = services.decision_for(customer, business_today())
    due = decision.due_on.isoformat() if decision.due_on else "-"
    click.echo(f"{customer_no}\tdue {due}\t{'may be purged' if decision.purge else 'kept'}: {decision.reason}")
    db.session.rollback()
