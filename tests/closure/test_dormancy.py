"""Dormancy (休眠): the marking command, and reactivation at the counter with the ID re-checked."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.accounts.models import AccountStatusChange
from blueprints.closure import services
from blueprints.customers.models import Customer, IdDocument
from core.extensions import db
from core.timeutil import business_today
from tests.closure.support import fund_status, review, start_reactivation
from tests.requests.helpers import page_of

REACTIVATE = "/closure/reactivation/{}/review"


def _quiet(trading, number, years=3, days=1):
    trading.set_position(number, last_trade_on=business_today() - timedelta(days=365 * years + days))


def _mark(app):
    result = app.test_cli_runner().invoke(args=["accounts", "mark-dormant"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("balance,dormant", [("99.99", True), ("100.00", False), ("0.00", True)])
def test_the_command_marks_accounts_under_100_yuan_quiet_for_three_years(app, active, bank, trading, balance,
                                                                         dormant):
    _, number = active
    _quiet(trading, number)
    bank.set_balance(number, balance)
    output = _mark(app)
    assert fund_status(app, number) == ("dormant" if dormant else "active")
    assert f"marked {1 if dormant else 0} dormant" in output
    if dormant:
        with app.app_context():
            reason = db.session.scalar(select(AccountStatusChange.reason).where(AccountStatusChange.to_status == "dormant"))
        assert f"资金余额 ¥{float(balance):,.2f}" in reason and "已满三年" in reason


def test_holdings_or_a_recent_trade_keep_an_account_active(app, active, trading):
    _, number = active
    _quiet(trading, number, years=2, days=360)
    _mark(app)
    assert fund_status(app, number) == "active"
    _quiet(trading, number)
    trading.set_position(number, holdings=[{"code": "000001", "name": "平安银行", "quantity": 10}])
    _mark(app)
    assert fund_status(app, number) == "active"


def test_marking_twice_changes_nothing_more(app, active, trading):
    _, number = active
    _quiet(trading, number)
    assert "marked 1 dormant" in _mark(app)
    assert "checked 0 active fund accounts, marked 0 dormant" in _mark(app)
    with app.app_context():
        assert len(list(db.session.scalars(select(AccountStatusChange).where(
            AccountStatusChange.to_status == "dormant")))) == 1


@pytest.fixture
def dormant(app, active, trading):
    _quiet(trading, active[1])
    _mark(app)
    return active


def test_a_reviewed_reactivation_makes_the_account_active_from_the_next_trading_day(app, clerk, dormant):
    customer_no, number = dormant
    response = start_reactivation(clerk, customer_no, number)
    assert response.status_code == 303
    reference = response.headers["Location"].rsplit("/", 1)[1]
    assert fund_status(app, number) == "dormant"
    refused = review(clerk, reference, username="clerk", path=REACTIVATE)
    assert refused.status_code == 403
    assert review(clerk, reference, path=REACTIVATE).status_code == 303
    assert fund_status(app, number) == "active"
    html = clerk.get(f"/closure/reactivation/{reference}").get_data(as_text=True)
    assert "已激活" in html and "下一交易日起可正常交易" in html
    assert review(clerk, reference, path=REACTIVATE).status_code == 409


def test_an_expired_id_document_is_refused(app, clerk, dormant):
    customer_no, number = dormant
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        document = db.session.scalar(select(IdDocument).where(IdDocument.customer_id == customer_id))
        document.valid_to = business_today() - timedelta(days=1)
        db.session.commit()
    html = clerk.get(f"/closure/{customer_no}").get_data(as_text=True)
    assert "已于" in html and "过期" in html
    import re

    token = re.search(r'name="reactivate-client_token" type="hidden" value="([^"]+)"', html).group(1)
    response = clerk.post(f"/closure/{customer_no}/reactivate", {"reactivate-fund_account": number,
                                                                 "reactivate-client_token": token,
                                                                 "reactivate-id_checked": "y"}, htmx=True)
    assert response.status_code == 422
    assert "过期" in page_of(response).errors_for("reactivate-id_checked")[0]


def test_the_clerk_must_confirm_the_id_shown(app, clerk, dormant):
    customer_no, number = dormant
    response = clerk.post(f"/closure/{customer_no}/reactivate", {"reactivate-fund_account": number,
                                                                 "reactivate-client_token": "t-1"}, htmx=True)
    assert response.status_code == 422
    assert page_of(response).errors_for("reactivate-id_checked") == ["请核验客户出示的有效身份证件后勾选"]


def test_an_active_account_cannot_be_reactivated(app, clerk, active):
    customer_no, number = active
    response = clerk.post(f"/closure/{customer_no}/reactivate", {"reactivate-fund_account": number,
                                                                 "reactivate-client_token": "t-2",
                                                                 "reactivate-id_checked": "y"})
    assert response.status_code == 409


def test_the_customer_panel_lists_businesses_and_links(app, clerk, dormant):
    customer_no, number = dormant
    start_reactivation(clerk, customer_no, number)
    with app.test_request_context():
        from flask import render_template

        from blueprints.auth.models import Staff

        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        user = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        panel = services.panel_for(customer, user)
        assert panel["can_start"] and not panel["historical"]
        assert panel["accounts"][0]["number"] == number and panel["accounts"][0]["reactivation"] is not None
        assert panel["reactivations"][0]["status_label"] == "待复核"
        from flask_login import login_user

        login_user(user)
        html = render_template("closure/_customer_panel.html", closure_panel=panel)
        assert f"/closure/{customer_no}" in html and panel["reactivations"][0]["reference"] in html
