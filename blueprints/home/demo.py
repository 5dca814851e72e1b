"""Command that loads the demo branches, one user for each role and a sample customer (seed-demo).

It sits at the top of the packages because it fills in the tables of several of them.
"""
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from blueprints.auth.models import Branch, Staff
from blueprints.auth.services import hash_password
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from core.extensions import db
from core.roles import ROLE_LABELS, Role

DEMO_PASSWORD = "Demo@2026"
# The demo's well-known logins exist only where the app makes its own keys: never in production,
# whose first administrator comes from `flask staff create-admin`.
DEMO_MODES = frozenset({"demo", "development", "test"})
DEMO_BRANCHES = (
    ("0000", "总部", True),
    ("0101", "北京朝阳门营业部", False),
    ("0201", "上海浦东营业部", False),
)
DEMO_USERS = (
    ("clerk", "王柜员", Role.CLERK, "0101"),
    ("reviewer", "李复核", Role.REVIEWER, "0101"),
    ("witness", "赵见证", Role.WITNESS, "0101"),
    ("witness2", "孙见证", Role.WITNESS, "0101"),
    ("marketing", "钱营销", Role.MARKETING, "0101"),
    ("visitor", "孙回访", Role.RETURN_VISIT, "0101"),
    ("archivist", "周档案", Role.ARCHIVIST, "0101"),
    ("manager", "吴经理", Role.BRANCH_MANAGER, "0101"),
    ("admin", "郑管理", Role.HQ_ADMIN, "0000"),
    ("clerk_sh", "冯柜员", Role.CLERK, "0201"),
    ("cmanager", "陈客户经理", Role.CUSTOMER_MANAGER, "0101"),
    ("cmanager2", "林客户经理", Role.CUSTOMER_MANAGER, "0101"),
    ("broker", "何经纪", Role.BROKER, "0101"),
)
# Qualification facts for 第十七条: (qualification no., regular employee, marketing, trained on).
DEMO_QUALIFICATIONS = {
    "clerk": ("S0101190001", True, False, None),
    "witness": ("S0101200002", True, False, date(2025, 3, 1)),
    "witness2": ("S0101210003", True, False, date(2025, 6, 1)),
    "marketing": ("S0101220004", False, True, None),
    "manager": ("S0101150005", True, False, date(2024, 1, 1)),
    "cmanager": ("S0101180006", True, False, None),
    "cmanager2": ("S0101190007", True, False, None),
    "broker": ("S0101230008", False, True, None),  # 证券经纪人: a contracted agent, not an employee
}
# An existing customer, so the key-information consistency check has something to find.
DEMO_CUSTOMERS = (("C0101000001", "0101", "张建国", "resident_id", "11010519491231002X"),)
# Who serves the demo customers (since DEMO_SERVED_SINCE): {customer no.: username}.
DEMO_ASSIGNMENTS = {"C0101000001": "cmanager"}


def seed_demo(password_hash: str | None = None) -> list[tuple[str, str, str]]:
    """Create the demo branches, users and customers if missing; return the logins.

    `password_hash` lets the test suite reuse one precomputed hash: scrypt is slow on purpose.
    """
    branches = {}
    for code, name, is_hq in DEMO_BRANCHES:
        branch = db.session.scalar(select(Branch).filter_by(code=code))
        if branch is None:
            branch = Branch(code=code, name=name, is_headquarters=is_hq)
            db.session.add(branch)
        branches[code] = branch
    db.session.flush()
    from blueprints.staff_admin.services import grant_all

    for branch in branches.values():
        grant_all(branch, "演示数据")
    logins = []
    for username, full_name, role, code in DEMO_USERS:
        if db.session.scalar(select(Staff).filter_by(username=username)) is None:
            qualification, regular, marketing, trained = DEMO_QUALIFICATIONS.get(username, (None, True, False, None))
            db.session.add(Staff(username=username, full_name=full_name, role=role,
                                 branch_id=branches[code].id, password_hash=password_hash or hash_password(DEMO_PASSWORD),
                                 qualification_no=qualification, is_regular_employee=regular, is_marketing=marketing,
                                 witness_trained_on=trained))
        logins.append((username, ROLE_LABELS[role], branches[code].name))
    for customer_no, code, name, id_type, id_number in DEMO_CUSTOMERS:
        if db.session.scalar(select(Customer).filter_by(customer_no=customer_no)) is None:
            customer = customer_services.create_customer(branch=branches[code], customer_no=customer_no, source="import",
                                                         actor=None, reason="演示数据",
                                                         values={"name": name, "id_type": id_type, "id_number": id_number})
            _seed_assignment(customer)
    db.session.commit()
    return logins


# The demo customers are existing customers, served by their manager since long before today: a fixed
# date, so that the assignment holds on any business day (tests move the day back and forth).
DEMO_SERVED_SINCE = date(2020, 1, 2)


def _seed_assignment(customer: Customer) -> None:
    from blueprints.managers.models import CustomerAssignment

    username = DEMO_ASSIGNMENTS.get(customer.customer_no)
    staff = db.session.scalar(select(Staff).filter_by(username=username)) if username else None
    if staff is not None:
        db.session.add(CustomerAssignment(customer_id=customer.id, staff_id=staff.id, effective_from=DEMO_SERVED_SINCE,
                                          reason="演示数据"))


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load the demo branch, one user per role and a sample customer (demo and development modes only)."""
    mode = current_app.config.get("APP_MODE")
    if mode not in DEMO_MODES:
        raise click.ClickException(f"seed-demo 只用于演示（APP_MODE=demo 或 development），当前为 {mode}："
                                   "生产环境请用 flask --app app staff create-admin 创建首位总部管理员")
    logins = seed_demo()
    click.echo("演示账号（密码均为 %s）：" % DEMO_PASSWORD)
    for username, role_label, branch_name in logins:
        click.echo(f"  {username:<10} {role_label:<8} {branch_name}")
