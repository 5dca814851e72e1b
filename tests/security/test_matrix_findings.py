"""Defects the access-matrix cells found, each kept fixed by its own test."""
from tests.requests.helpers import login_as


def test_a_handover_posted_without_a_giver_is_refused_with_422_and_a_message(app):
    manager = login_as(app, "manager")
    response = manager.post("/managers/handovers/new", {})
    assert response.status_code == 422
    assert 'id="handover-refused">请选择移交人<' in response.get_data(as_text=True)
