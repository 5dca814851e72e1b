"""`flask service escalate`: escalate overdue complaints to the branch manager, for cron."""
import click
from flask.cli import AppGroup

from blueprints.service import services
from core.extensions import db

service_cli = AppGroup("service", help="Service records and complaints.")


@service_cli.command("escalate")
def escalate_command():
    """Escalate every overdue complaint not yet escalated (each once) and print their references."""
    escalated = services.escalate_overdue()
    db.session.commit()
    click.echo(f"超期投诉升级至营业部负责人：{len(escalated)} 笔")
    for reference in escalated:
        click.echo(f"  {reference}")
