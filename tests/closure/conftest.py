"""Fixtures for closure tests: the simulators, and a customer with active accounts."""
import pytest

from tests.closure.support import active_customer
from tests.requests.helpers import login_as


class InApp:
    """A simulator whose test helpers (set_balance, set_position …) run inside the app context."""

    def __init__(self, app, simulator):
        self._app, self._simulator = app, simulator

    def __getattr__(self, name):
        value = getattr(self._simulator, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            with self._app.app_context():
                return value(*args, **kwargs)
        return call


@pytest.fixture
def bank(app):
    return InApp(app, app.extensions["depository_bank"])


@pytest.fixture
def trading(app):
    return InApp(app, app.extensions["trading"])


@pytest.fixture
def clerk(app, auth):
    auth.login("clerk")
    return auth


@pytest.fixture
def active(app, clerk):
    """(customer number, fund account number) of a customer whose accounts are active."""
    return active_customer(app, clerk)


@pytest.fixture
def manager(app):
    return login_as(app, "manager")
