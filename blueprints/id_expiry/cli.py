"""In the customers command group: restrict customers whose ID document expired and was not renewed."""
import click

from blueprints.id_expiry import services
from blueprints.customers.cli import customers_cli
from core.extensions import db


@customers_cli.command("restrict-expired")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge as of this business date (default: today in Beijing).")
@click.option("--grace-days", type=click.IntRange(min=0), default=None,
              help="Days after expiry before business is restricted (default: ID_EXPIRY_GRACE_DAYS).")
def restrict_expired_command(today, grace_days):
    """Restrict the live accounts of customers whose ID document expired beyond the grace period."""
    run = services.restrict_expired(today.date() if today else None, grace_days)
    db.session.commit()
    click.echo(f"checked {run.checked} customers with an expired document, restricted {run.restricted} "
               f"({run.accounts} accounts), lifted {run.lifted}")
