"""In the customers command group: rebuild the search keys and find possible duplicates in existing data."""
import click

from blueprints.customers.cli import customers_cli
from blueprints.search import duplicates, services
from core.extensions import db


@customers_cli.command("reindex")
def reindex_command():
    """Rebuild every customer's search keys from the current profile versions."""
    count = services.reindex_all()
    click.echo(f"rebuilt the search keys of {count} customers")


@customers_cli.command("find-duplicates")
def find_duplicates_command():
    """Flag pairs of customers that may be one person (same name and birth date, another ID type; one mobile)."""
    new = duplicates.find_all()
    db.session.commit()
    click.echo(f"flagged {new} new possible duplicate pairs")
