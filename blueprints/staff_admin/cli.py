"""`flask staff create-admin`: the first HQ administrator of an installation (there is no built-in one)."""
import sys

import click
from flask.cli import with_appcontext

from blueprints.staff_admin import services
from core.extensions import db


@click.group("staff")
def staff_cli():
    """Staff accounts."""


@staff_cli.command("create-admin")
@click.argument("username")
@click.option("--full-name", default=None, help="姓名（默认同用户名）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行），不提示")
@with_appcontext
def create_admin_command(username: str, full_name: str | None, password_stdin: bool):
    """Create an HQ administrator with a password typed twice (or read from stdin); weak passwords are refused."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    try:
        staff = services.create_first_admin(username, full_name or username, password)
    except services.StaffAdminRefused as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from None
    db.session.commit()
    click.echo(f"已创建总部管理员 {staff.username}（{staff.branch.name}）")
