"""Brokers and marketing staff never open, close, change or transfer accounts (证券经纪人管理暂行规定 第十三条)."""
import pytest
from werkzeug.routing import Rule

from core.roles import ROLES_NEVER_HANDLING_ACCOUNTS, Role
from tests.requests.helpers import login_as

# The blueprints whose routes start or carry out an opening, a closure (and reactivation), a change, or the
# card reads an opening takes; the signed reader API authenticates devices, not staff.
ACCOUNT_BLUEPRINTS = ("opening", "changes", "closure", "reader")
NOT_STAFF_ROUTES = {"reader.post_read"}


def _account_rules(app) -> list[Rule]:
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.split(".")[0] in ACCOUNT_BLUEPRINTS and rule.endpoint not in NOT_STAFF_ROUTES]
    assert len(rules) > 30, "the account blueprints' routes were not found"
    return rules


# A value each kind of URL part accepts (closure references have their own converter).
PLACEHOLDERS = {"IntegerConverter": 1, "ClosureReference": "XH20261202000001"}


def _url(app, rule: Rule) -> str:
    values = {name: PLACEHOLDERS.get(type(rule._converters[name]).__name__, "X0000000001") for name in rule.arguments}
    url = rule.build(values, append_unknown=False)[1]
    method = next(iter(rule.methods - {"HEAD", "OPTIONS"}))
    # The URL must reach this very route, or a 404 from routing would pass for a refusal.
    assert app.url_map.bind("localhost").match(url, method=method)[0] == rule.endpoint, url
    return url


def test_every_account_route_names_its_roles_and_admits_neither_brokers_nor_marketing(app):
    for rule in _account_rules(app):
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "allowed_roles", None)
        assert allowed is not None, f"{rule.endpoint} has no role check"
        assert not allowed & ROLES_NEVER_HANDLING_ACCOUNTS, f"{rule.endpoint} admits {allowed & ROLES_NEVER_HANDLING_ACCOUNTS}"


@pytest.mark.parametrize("username", ["broker", "marketing"])
def test_brokers_and_marketing_are_refused_on_every_account_route(app, username):
    auth = login_as(app, username)
    assert auth.client.get("/").status_code == 200
    for rule in _account_rules(app):
        url = _url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = auth.get(url) if method == "GET" else auth.post(url)
            assert response.status_code == 403, (username, method, url, response.status_code)


def test_the_roles_that_never_handle_accounts_are_brokers_and_marketing():
    assert ROLES_NEVER_HANDLING_ACCOUNTS == {Role.BROKER, Role.MARKETING}
