"""Who may see and do what on the closure and reactivation screens; forms need their token; inline messages."""
import pytest

from tests.closure.support import reference_from, review, start_closure, start_form
from tests.requests.helpers import login_as, page_of


@pytest.fixture
def submitted(app, clerk, active):
    customer_no, number = active
    return customer_no, number, reference_from(start_closure(clerk, customer_no, number))


@pytest.mark.parametrize("username,status", [
    ("reviewer", 200), ("manager", 200), ("admin", 200),
    ("archivist", 403), ("visitor", 403), ("witness", 403), ("marketing", 403),
])
def test_the_pages_are_for_counter_review_and_management_roles(app, submitted, username, status):
    customer_no, _, reference = submitted
    user = login_as(app, username)
    assert user.get(f"/closure/{customer_no}").status_code == status
    assert user.get(f"/closure/{reference}").status_code == status


@pytest.mark.parametrize("username", ["reviewer", "manager", "admin"])
def test_only_clerks_start_and_act(app, submitted, username):
    customer_no, number, reference = submitted
    user = login_as(app, username)
    html = user.get(f"/closure/{customer_no}").get_data(as_text=True)
    assert "提交销户复核" not in html
    assert user.post(f"/closure/{customer_no}/start", {"fund_account": number}).status_code == 403
    assert user.post(f"/closure/{reference}/review", {}).status_code == 403
    assert user.post(f"/closure/{reference}/withdraw", {"withdraw-reason": "x"}).status_code == 403


def test_another_branch_sees_nothing(app, submitted):
    customer_no, number, reference = submitted
    other = login_as(app, "clerk_sh")
    assert other.get(f"/closure/{customer_no}").status_code == 404
    assert other.get(f"/closure/{reference}").status_code == 404
    assert other.get(f"/closure/{reference}/steps", htmx=True).status_code == 404
    assert other.post(f"/closure/{customer_no}/start", {"fund_account": number}).status_code == 404
    assert other.post(f"/closure/{reference}/review", {}).status_code == 404
    assert other.post(f"/closure/{reference}/withdraw", {"withdraw-reason": "x"}).status_code == 404


def test_an_unknown_fund_account_is_not_found(app, clerk, active):
    customer_no, number = active
    data = dict(start_form(clerk, customer_no, number), fund_account="999999999999")
    assert clerk.post(f"/closure/{customer_no}/start", data).status_code == 404


def test_the_forms_need_their_csrf_token(app, clerk, submitted):
    customer_no, number, reference = submitted
    plain = clerk.client  # posts without the X-CSRFToken header
    assert plain.post(f"/closure/{customer_no}/start", data={"fund_account": number}).status_code == 400
    assert plain.post(f"/closure/{reference}/review", data={"reviewer_username": "reviewer"}).status_code == 400
    assert plain.post(f"/closure/{reference}/withdraw", data={"withdraw-reason": "x"}).status_code == 400
    assert plain.post(f"/closure/{customer_no}/reactivate", data={}).status_code == 400


def test_the_start_confirmation_is_asked_next_to_the_field(app, clerk, active):
    customer_no, number = active
    data = start_form(clerk, customer_no, number)
    del data["confirmed"]
    response = clerk.post(f"/closure/{customer_no}/start", data, htmx=True)
    assert response.status_code == 422
    assert page_of(response).errors_for("confirmed") == ["请确认已核对客户本人及有效身份证件"]
    assert f'id="closure-account-{number}"' in response.get_data(as_text=True)


def test_review_messages_stand_next_to_their_fields(app, clerk, submitted):
    _, _, reference = submitted
    missing = review(clerk, reference, password="", htmx=True)
    assert missing.status_code == 422
    assert page_of(missing).errors_for("reviewer_password") == ["请输入复核人密码"]
    wrong = review(clerk, reference, password="not-it", htmx=True)
    assert wrong.status_code == 422
    assert "用户名或密码错误" in page_of(wrong).errors_for("reviewer_password")[0]
    no_reason = review(clerk, reference, decision="reject", htmx=True)
    assert no_reason.status_code == 422
    assert page_of(no_reason).errors_for("reason") == ["退回须填写原因"]
    other_branch = review(clerk, reference, username="clerk_sh", htmx=True)
    assert other_branch.status_code == 403
    assert page_of(other_branch).errors_for("reviewer_username")
    assert other_branch.headers["HX-Retarget"] == "#review-panel"


def test_a_withdrawal_needs_a_reason(app, clerk, submitted):
    _, _, reference = submitted
    response = clerk.post(f"/closure/{reference}/withdraw", {"withdraw-reason": ""}, htmx=True)
    assert response.status_code == 422
    assert page_of(response).errors_for("withdraw-reason") == ["撤回须填写原因"]


def test_the_session_stays_the_clerks_after_same_terminal_review(app, clerk, submitted):
    _, _, reference = submitted
    assert review(clerk, reference).status_code == 303
    html = clerk.get(f"/closure/{reference}").get_data(as_text=True)
    assert "王柜员（柜台业务岗）" in html
    assert "李复核（同机复核，操作员 王柜员）" in html


def test_lists_mask_the_name_and_urls_carry_no_personal_numbers(app, clerk, submitted):
    customer_no, _, reference = submitted
    for url in (f"/closure/{customer_no}", f"/closure/{reference}"):
        page = page_of(clerk.get(url))
        assert "刘*" in page.html and "刘䶮" not in page.html
        assert not any("110105" in u or "138123" in u for u in page.urls)
