"""`flask managers report`: the handovers that take effect on a day, and each manager's customer count."""
from datetime import date

import click
from flask.cli import AppGroup

from blueprints.managers import services

managers_cli = AppGroup("managers", help="Customer managers and handovers.")


@managers_cli.command("report")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to report (Beijing business date); today when left out.")
def report_command(on):
    """Print the handovers taking effect on the day and the customers each manager holds from then."""
    day: date = on.date() if on else services.today()
    effective = services.taking_effect(day)
    names = services.staff_names([h.from_staff_id for h in effective]
                                 + [item.to_staff_id for h in effective for item in h.items])
    click.echo(f"{day.isoformat()} 生效的客户移交：{len(effective)} 笔")
    for handover in effective:
        successors = sorted({names.get(item.to_staff_id, "?") for item in handover.items})
        click.echo(f"  {handover.reference}  {names.get(handover.from_staff_id, '?')} → {'、'.join(successors)}"
                   f"  客户 {len(handover.items)} 户")
    counts = services.counts_by_manager(None, day)
    staff = services.staff_names(counts)
    click.echo("各客户经理 / 证券经纪人名下客户：")
    for staff_id, count in sorted(counts.items(), key=lambda pair: staff.get(pair[0], "")):
        click.echo(f"  {staff.get(staff_id, staff_id)}  {count} 户")
