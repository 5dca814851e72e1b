"""The header search box for customer managers and brokers: shown to them, and finding only their own customers."""
from core.extensions import db
from tests import factories
from tests.requests.helpers import login_as
from tests.requests.test_customer_search import add_customer, customer_nos, suggest


def test_a_customer_manager_has_the_box_and_finds_only_the_customers_assigned_to_them(app):
    with app.app_context():
        add_customer("C0101300001", "张建军", factories.make_id("110105", "19800115", "137"))  # nobody's
        db.session.commit()
    owner = login_as(app, "cmanager")
    assert 'id="customer-search"' in owner.get("/").get_data(as_text=True)
    assert customer_nos(suggest(owner, "zjg")) == ["C0101000001"]  # 张建国, assigned to them; not 张建军
    assert customer_nos(suggest(login_as(app, "cmanager2"), "zjg")) == []
    assert customer_nos(suggest(login_as(app, "manager"), "zj")) == ["C0101000001", "C0101300001"]
    assert 'id="customer-search"' in login_as(app, "broker").get("/").get_data(as_text=True)
