"""The `customers` command group; the packages that keep customer records add their commands to it."""
import click
from flask.cli import AppGroup

customers_cli = AppGroup("customers", help="Customer records housekeeping.")


@customers_cli.command("recount")
def recount_command():
    """Rebuild the kept customer counts (customer_count) from the customer table, for repair."""
    from blueprints.customers import counts
    from core.extensions import db

    wrong = counts.recount()
    db.session.commit()
    for (branch_id, kind, risk_class, lowest, grade), (kept, actual) in sorted(wrong.items()):
        click.echo(f"branch {branch_id} {kind} {risk_class or '-'}{' lowest' if lowest else ''} {grade or '-'}: "
                   f"kept {kept}, counted {actual}")
    click.echo(f"Recounted customers: {len(wrong)} count(s) corrected.")
