"""显示完整: showing one masked value in full is an explicit POST, allowed per role and field, and audited."""
import pytest
from sqlalchemy import select

from core.extensions import db
from core.masking import mask_address, mask_id_number, mask_mobile
from core.models import AuditEvent
from core.roles import ROLES_REVEALING, Role
from tests import factories
from tests.requests.helpers import login_as
from tests.security.test_masked_outputs import customer_no, file_store  # noqa: F401 (fixtures)

MOBILE = factories.contact()["mobile"]
ADDRESS = factories.contact()["address"]
FULL = {"id_number": factories.CUSTOMER_ID, "mobile": MOBILE, "address": ADDRESS}
MASKED = {"id_number": mask_id_number(factories.CUSTOMER_ID), "mobile": mask_mobile(MOBILE),
          "address": mask_address(ADDRESS)}
ELEMENT = {"id_number": "reveal-id-number", "mobile": "reveal-mobile", "address": "reveal-address"}


def reveal_url(customer_no, field):
    return f"/customers/{customer_no}/reveal/{field}"


def reveals(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.reveal")))


@pytest.mark.parametrize("field", ["mobile", "address", "id_number"])
def test_branch_manager_sees_a_masked_value_and_its_reveal_button(app, customer_no, field):
    body = login_as(app, "manager").get(f"/customers/{customer_no}").get_data(as_text=True)
    assert MASKED[field] in body and FULL[field] not in body
    assert f'hx-post="{reveal_url(customer_no, field)}"' in body and f'hx-target="#{ELEMENT[field]}"' in body


@pytest.mark.parametrize("field", ["mobile", "address", "id_number"])
def test_revealing_swaps_in_only_that_value_and_writes_one_audit_row_without_it(app, customer_no, field):
    manager = login_as(app, "manager")
    response = manager.post(reveal_url(customer_no, field), htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'id="{ELEMENT[field]}"' in body and FULL[field] in body and "<html" not in body
    # Only that field: the other values stay out of the fragment.
    assert all(FULL[other] not in body for other in FULL if other != field and FULL[other] not in FULL[field])
    [event] = reveals(app)
    assert event.object_type == "customer" and event.object_id == customer_no and event.detail == {"field": field}
    assert FULL[field] not in repr(event.detail) and event.actor_name == "manager"


def test_revealing_without_htmx_shows_the_whole_page_with_the_value(app, customer_no):
    response = login_as(app, "manager").post(reveal_url(customer_no, "mobile"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body and MOBILE in body
    assert factories.CUSTOMER_ID not in body  # the other masked values stay masked
    assert len(reveals(app)) == 1


def test_the_page_shown_again_masks_the_value_again(app, customer_no):
    manager = login_as(app, "manager")
    manager.post(reveal_url(customer_no, "mobile"), htmx=True)
    assert MOBILE not in manager.get(f"/customers/{customer_no}").get_data(as_text=True)


def test_a_get_reveals_nothing(app, customer_no):
    assert login_as(app, "manager").get(reveal_url(customer_no, "mobile")).status_code == 405
    assert reveals(app) == []


def test_a_reveal_without_the_csrf_token_is_refused(app, customer_no):
    client = login_as(app, "manager").client
    response = client.post(reveal_url(customer_no, "mobile"), headers={"HX-Request": "true"})
    assert response.status_code == 400 and MOBILE not in response.get_data(as_text=True)
    assert reveals(app) == []


@pytest.mark.parametrize(("username", "field"), [("broker", "mobile"), ("admin", "mobile"), ("cmanager", "id_number"),
                                                 ("visitor", "address"), ("archivist", "mobile")])
def test_roles_not_allowed_to_reveal_a_field_are_refused_and_see_no_button(app, customer_no, username, field):
    auth = login_as(app, username)
    response = auth.post(reveal_url(customer_no, field), htmx=True)
    assert response.status_code in (403, 404) and FULL[field] not in response.get_data(as_text=True)
    page = auth.get(f"/customers/{customer_no}")
    if page.status_code == 200:
        assert reveal_url(customer_no, field) not in page.get_data(as_text=True)
    assert reveals(app) == []


def test_an_unknown_field_or_customer_is_not_found(app, customer_no):
    manager = login_as(app, "manager")
    assert manager.post(reveal_url(customer_no, "bank_card"), htmx=True).status_code == 404
    assert manager.post(reveal_url("C0201999999", "mobile"), htmx=True).status_code == 404
    assert reveals(app) == []


def test_a_customer_of_another_branch_cannot_be_revealed(app, customer_no):
    from tests.requests.helpers import add_staff

    add_staff(app, "manager_sh", Role.BRANCH_MANAGER, branch_code="0201", full_name="沈经理")
    assert login_as(app, "manager_sh").post(reveal_url(customer_no, "mobile"), htmx=True).status_code == 404
    assert reveals(app) == []


def test_clerks_see_the_id_number_in_full_and_reveal_the_mobile(app, customer_no):
    clerk = login_as(app, "clerk")
    body = clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert factories.CUSTOMER_ID in body and reveal_url(customer_no, "id_number") not in body
    assert MOBILE not in body and reveal_url(customer_no, "mobile") in body
    assert MOBILE in clerk.post(reveal_url(customer_no, "mobile"), htmx=True).get_data(as_text=True)


def test_every_revealable_field_names_only_known_roles():
    assert set(ROLES_REVEALING) == {"id_number", "mobile", "address"}
    assert Role.BROKER not in set().union(*ROLES_REVEALING.values())
    assert Role.HQ_ADMIN not in set().union(*ROLES_REVEALING.values())
