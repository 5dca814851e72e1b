"""Every role's home page runs the same number of queries whatever the size of the firm and of its queues."""
from datetime import datetime

import pytest
from sqlalchemy import event

from bench.dashboard_data import add_waiting_work, generate
from core.extensions import db
from tests.requests.helpers import login_as

ROLES = ("clerk", "witness", "reviewer", "visitor", "archivist", "manager", "admin", "marketing", "cmanager", "broker")


def home_queries(app) -> dict[str, int]:
    """The SQL statements one GET / runs, per demo user (the second visit, after the login's own work)."""
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    found = {}
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        for username in ROLES:
            client = login_as(app, username)
            assert client.get("/").status_code == 200
            statements.clear()
            response = client.get("/")
            assert response.status_code == 200, username
            found[username] = len(statements)
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    return found


def grow(app, customers: int, per_queue: int, seed: int) -> None:
    with app.app_context():
        generate(customers, 2, datetime(2026, 11, 30), years=1, seed=seed)
        add_waiting_work(per_queue)
        db.session.commit()


@pytest.fixture
def small(app):
    grow(app, 40, 2, seed=1)
    return home_queries(app)


def test_home_pages_run_the_same_queries_with_ten_times_the_customers_and_queues(app, small):
    grow(app, 400, 25, seed=2)  # more than a page of the clerk's to-do
    large = home_queries(app)
    assert large == small
    assert small["clerk"] <= 30  # the to-do's lines cost no query each


def test_the_clerks_todo_shows_a_page_and_says_so(app):
    grow(app, 10, 25, seed=3)
    html = login_as(app, "clerk").get("/").get_data(as_text=True)
    todo = html.split('id="my-drafts"', 1)[1].split("</table>", 1)[0]
    assert todo.count("<tr data-reference=") == 40  # 20 open (drafts and returned), 20 with scans asked again
    assert 'id="todo-truncated"' in html and "各只列出最近更新的 20 笔" in html
    assert "退回原因：联系地址不完整" in todo and "复核要求重新提交" in todo
