"""Two clerks changing one customer at once, and two reviewers approving one change at once."""
import pytest
from sqlalchemy import func, select

from blueprints.changes.models import CustomerChange
from core.extensions import db
from core.storage import LocalStore
from tests.concurrency.test_concurrent_requests import _race
from tests.conftest import Auth
from tests.lifecycle import activate_customer
from tests.changes.test_change_requests import _form_values, _ordinary_change, _review, _submit_ordinary


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))


def test_two_clerks_changing_one_customer_at_once_one_wins_and_the_other_keeps_what_was_typed(app, file_store):
    first, second = Auth(app.test_client()), Auth(app.test_client())
    first.login()
    second.login()
    customer_no = activate_customer(app, first)
    forms = []
    for auth, postcode in ((first, "200120"), (second, "310000")):
        _values, preview = _ordinary_change(auth, customer_no, postcode=postcode)
        forms.append(_form_values(preview.get_data(as_text=True), "ordinary-change-form"))
    url = f"/changes/new/{customer_no}/ordinary"

    responses = _race([lambda: first.post(url, data=forms[0]), lambda: second.post(url, data=forms[1])])

    assert sorted(r.status_code for r in responses) == [303, 409]
    loser = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert "未完成的资料变更" in loser and ('value="200120"' in loser or 'value="310000"' in loser)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CustomerChange)) == 1


def test_two_approvals_of_one_change_at_once_apply_it_once(app, file_store):
    first, second = Auth(app.test_client()), Auth(app.test_client())
    first.login()
    second.login()
    customer_no = activate_customer(app, first)
    reference = _submit_ordinary(first, customer_no, mobile="13912345678")

    responses = _race([lambda: _review(first, reference), lambda: _review(second, reference)])

    assert sorted(r.status_code for r in responses)[0] == 303
    with app.app_context():
        change = db.session.scalar(select(CustomerChange).where(CustomerChange.reference == reference))
        assert change.status == "applied" and change.applied_version == 2
