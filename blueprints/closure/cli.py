"""The accounts command group: mark dormant (休眠) fund accounts from the trading system and the banks."""
import click
from flask.cli import AppGroup

from blueprints.closure import services
from core.extensions import db

accounts_cli = AppGroup("accounts", help="Fund account housekeeping.")


@accounts_cli.command("mark-dormant")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge as of this business date (default: today in Beijing).")
def mark_dormant_command(today):
    """Move active fund accounts with no securities, under ¥100 and no trade for three years to dormant."""
    numbers = services.active_fund_account_numbers()
    db.session.commit()  # no transaction open while the trading system and the banks are asked
    facts = services.live_facts(numbers)
    run = services.mark_dormant(facts, today.date() if today else None)
    db.session.commit()
    click.echo(f"checked {run.checked} active fund accounts, marked {run.marked} dormant"
               + (f", {run.unavailable} not checked (system unavailable)" if run.unavailable else ""))
