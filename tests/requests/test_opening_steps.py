"""Every wizard step through the test client: saving, refusing with the message at the field, resuming."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.opening.models import Application, IdentityVerification, SuitabilityAssessment
from blueprints.opening.workflow import next_step
from core import choices
from tests.factories import STEP_KEYS
from core.extensions import db
from core.models import AuditEvent
from core.timeutil import business_today
from tests import factories
from tests.requests.helpers import (
    add_staff,
    application_row,
    count_applications,
    login_as,
    page_of,
    staff_id,
    status_changes,
)

BAD_CHECKSUM = factories.CUSTOMER_ID[:-1] + ("0" if factories.CUSTOMER_ID[-1] != "0" else "1")
HK_PERMIT = factories.make_id("810000", "19880612", "315")
KNOCK_OUT_QUESTION = next(q for q in factories.QUESTIONNAIRE["questions"] if any(o.get("lowest") for o in q["options"]))
KNOCK_OUT_OPTION = next(o["key"] for o in KNOCK_OUT_QUESTION["options"] if o.get("lowest"))


@pytest.fixture
def clerk(auth):
    assert auth.login("clerk").status_code == 303
    return auth


@pytest.fixture
def clerk_id(app):
    return staff_id(app, "clerk")


def draft_at(clerk, clerk_id, until: str, token: str = "tok-steps", **overrides) -> str:
    """Start a draft and save every step before `until` (payloads overridable per step)."""
    reference = factories.start(clerk, token)
    factories.walk_with(clerk, reference, until, clerk_id, **overrides)
    return reference


# Steps whose result the clerk must see before moving on (the check's answer, the score):
# a save shows the same step again, with the result and a 下一步 button.
SHOWS_RESULT = {"verification", "suitability"}


def after_save(key: str) -> str:
    return key if key in SHOWS_RESULT else next_step(key)


def valid_payload(key: str, clerk_id: int) -> dict:
    if key == "channel":
        return {"channel": "onsite", "customer_type": "individual"}
    return factories.payloads(clerk_id)[key]


def assert_refused(response, field: str, message: str):
    assert response.status_code == 422, response.status_code
    errors = page_of(response).errors_for(field)
    assert any(message in error for error in errors), (field, errors, page_of(response).all_errors())


def verifications(app, reference):
    with app.app_context():
        return [(v.result, v.simulated, v.provider, v.message, v.elapsed_ms) for v in db.session.scalars(
            select(IdentityVerification).join(Application).where(Application.reference == reference)
            .order_by(IdentityVerification.id))]


def assessments(app, reference):
    with app.app_context():
        return list(db.session.scalars(
            select(SuitabilityAssessment).join(Application).where(Application.reference == reference)
            .order_by(SuitabilityAssessment.id)))


# --- saving every step --------------------------------------------------------------------------------

@pytest.mark.parametrize("key", STEP_KEYS[:-1])
def test_valid_plain_post_saves_the_step_and_redirects_303_to_the_next(app, clerk, clerk_id, key):
    reference = draft_at(clerk, clerk_id, key)
    response = clerk.post(factories.step_url(reference, key), valid_payload(key, clerk_id))
    assert response.status_code == 303
    assert response.headers["Location"] == factories.step_url(reference, after_save(key))
    assert key in application_row(app, reference)["completed"]


@pytest.mark.parametrize("key", STEP_KEYS[:-1])
def test_valid_htmx_post_answers_with_the_next_steps_fragment_and_push_url(app, clerk, clerk_id, key):
    reference = draft_at(clerk, clerk_id, key)
    response = clerk.post(factories.step_url(reference, key), valid_payload(key, clerk_id), htmx=True)
    assert response.status_code == 200
    following = after_save(key)
    assert response.headers["HX-Push-Url"] == factories.step_url(reference, following)
    body = response.get_data(as_text=True)
    assert "<html" not in body.lower() and "<body" not in body.lower()
    assert body.lstrip().startswith('<div id="wizard"')
    assert f'id="step-panel" data-step="{following}"' in body
    assert key in application_row(app, reference)["completed"]


def test_summary_plain_post_submits_and_redirects_303_to_the_confirmation(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    response = clerk.post(factories.step_url(reference, "summary"), {})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/opening/{reference}/submitted"
    confirmation = clerk.get(response.headers["Location"])
    assert "开户申请已提交复核" in confirmation.get_data(as_text=True)
    assert application_row(app, reference)["status"] == "submitted"


def test_summary_htmx_post_submits_and_answers_204_with_hx_redirect(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    response = clerk.post(factories.step_url(reference, "summary"), {}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/opening/{reference}/submitted"
    assert application_row(app, reference)["status"] == "submitted"


# --- refusing invalid input --------------------------------------------------------------------------

INVALID = [
    # step, overrides of the valid payload, field, message, a field (name, value) that must be kept
    ("identity", {"name": ""}, "name", "此项为必填项", ("address", "北京市朝阳区建国路88号院3号楼1201")),
    ("identity", {"authority": ""}, "authority", "此项为必填项", ("id_number", factories.CUSTOMER_ID)),
    ("identity", {"name": "刘" * 61}, "name", "姓名过长", ("authority", "北京市公安局朝阳分局")),
    ("contact", {"address": ""}, "address", "此项为必填项", ("mobile", "13812348000")),
    ("contact", {"email": "not-an-email"}, "email", "电子邮箱格式不正确", ("employer", "北京某科技有限公司")),
    ("contact", {"occupation": ""}, "occupation", "请选择职业", ("postcode", "100022")),
    ("disclosure", {"customer_acknowledged": None}, "customer_acknowledged", "须由客户阅读并签字确认风险揭示书", None),
    ("agreements", {"change_method": ""}, "change_method", "请选择关键信息变更方式", None),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("key, overrides, field, message, kept", INVALID)
def test_invalid_post_is_refused_with_422_and_the_message_next_to_the_field(
        app, clerk, clerk_id, key, overrides, field, message, kept, htmx):
    reference = draft_at(clerk, clerk_id, key)
    payload = dict(valid_payload(key, clerk_id))
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    response = clerk.post(factories.step_url(reference, key), payload, htmx=htmx)
    assert_refused(response, field, message)
    page = page_of(response)
    if kept:
        assert page.value(kept[0]) == kept[1]
    if htmx:
        assert "<html" not in response.get_data(as_text=True).lower()
        assert "HX-Push-Url" not in response.headers
    assert key not in application_row(app, reference)["completed"]


def test_refused_identity_keeps_every_typed_value(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(sex="F"))
    assert_refused(response, "sex", "性别与证件号码不一致")
    page = page_of(response)
    data = factories.identity()
    for name in ("id_number", "name", "birth_date", "valid_from", "valid_to", "address", "authority"):
        assert page.value(name) == data[name], name
    assert page.select_value("id_type") == "resident_id"
    assert page.select_value("ethnicity") == "汉族"
    assert page.checked("sex") == ["F"]


def test_refused_contact_keeps_every_typed_value(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "contact")
    response = clerk.post(factories.step_url(reference, "contact"), factories.contact(address=""))
    assert response.status_code == 422
    page = page_of(response)
    data = factories.contact()
    for name in ("mobile", "email", "postcode", "employer"):
        assert page.value(name) == data[name], name
    assert page.select_value("occupation") == "professional"
    assert page.select_value("education") == "bachelor"
    assert page.checked("tax_residency") == ["cn_only"]


# --- reaching and resuming steps -------------------------------------------------------------------

@pytest.mark.parametrize("key", STEP_KEYS[2:])
def test_step_not_yet_reachable_redirects_to_the_resume_step(app, clerk, key):
    reference = factories.start(clerk)
    response = clerk.get(factories.step_url(reference, key))
    assert response.status_code == 303
    assert response.headers["Location"] == factories.step_url(reference, "identity")
    posted = clerk.post(factories.step_url(reference, key), {"has_agent": "no"})
    assert posted.status_code == 303
    assert posted.headers["Location"] == factories.step_url(reference, "identity")
    assert application_row(app, reference)["completed"] == {"channel"}


def test_unknown_step_is_404(clerk):
    reference = factories.start(clerk)
    assert clerk.get(factories.step_url(reference, "payment")).status_code == 404
    assert clerk.post(factories.step_url(reference, "payment"), {}).status_code == 404


def test_resume_in_a_new_browser_shows_every_saved_value(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    clerk.post(factories.step_url(reference, "agreements"),
               factories.agreements(change_method="witness", closure_method="online"))
    browser = login_as(app, "clerk")

    resume = browser.get(f"/opening/{reference}")
    assert resume.status_code == 303
    assert resume.headers["Location"] == factories.step_url(reference, "summary")

    channel = page_of(browser.get(factories.step_url(reference, "channel")))
    assert channel.checked("channel") == ["onsite"] and channel.checked("customer_type") == ["individual"]

    identity = page_of(browser.get(factories.step_url(reference, "identity")))
    for name, value in factories.identity().items():
        if name in ("id_type", "ethnicity"):
            assert identity.select_value(name) == value
        elif name == "sex":
            assert identity.checked("sex") == [value]
        else:
            assert identity.value(name) == value, name
    assert identity.checked("valid_long_term") == []

    contact = page_of(browser.get(factories.step_url(reference, "contact")))
    assert contact.value("mobile") == "13812348000" and contact.value("postcode") == "100022"
    assert contact.select_value("education") == "bachelor"

    assert "核查结果：一致" in browser.get(factories.step_url(reference, "verification")).get_data(as_text=True)
    assert page_of(browser.get(factories.step_url(reference, "agent"))).checked("has_agent") == ["no"]

    disclosure = page_of(browser.get(factories.step_url(reference, "disclosure")))
    assert disclosure.checked("customer_acknowledged") == ["y"]
    assert disclosure.select_value("explained_by") == str(clerk_id)

    suitability = page_of(browser.get(factories.step_url(reference, "suitability")))
    for question, option in factories.answers().items():
        assert suitability.checked(question) == [option], question

    agreements = page_of(browser.get(factories.step_url(reference, "agreements")))
    for key in choices.AGREEMENTS:
        assert agreements.checked(f"agreement_{key}") == ["y"], key
    assert agreements.select_value("change_method") == "witness"
    assert agreements.select_value("closure_method") == "online"


def test_resume_of_a_fresh_draft_goes_to_identity(clerk):
    reference = factories.start(clerk)
    response = clerk.get(f"/opening/{reference}")
    assert response.status_code == 303
    assert response.headers["Location"] == factories.step_url(reference, "identity")


# --- identity rules --------------------------------------------------------------------------------

# Dates counted from today are worked out when a test runs, not when the tests are collected: a run
# that crosses midnight in Beijing would otherwise test yesterday's rules. Such parameters are callables.


def _under_18() -> dict:
    number, birth = factories.id_for_age(18, days=-1)
    return {"id_number": number, "birth_date": birth}


def _turns_18_today() -> dict:
    number, birth = factories.id_for_age(18)
    return {"id_number": number, "birth_date": birth}


def _resolved(value):
    return value() if callable(value) else value


@pytest.mark.parametrize("overrides, field, message", [
    ({"id_number": BAD_CHECKSUM}, "id_number", "身份证号码校验位错误"),
    ({"id_number": factories.make_id("000000", "19880612", "315")}, "id_number", "地区码000000不存在"),
    ({"id_number": factories.make_id("110105", "19880230", "315")}, "id_number", "出生日期19880230无效"),
    ({"id_number": "110105880612315"}, "id_number", "不支持15位一代身份证号码"),
    ({"id_number": "11010519880612315"}, "id_number", "应为18位，当前为17位"),
    ({"id_number": HK_PERMIT}, "id_number", "请将证件类型改为“港澳台居民居住证”"),
    ({"sex": "F"}, "sex", "性别与证件号码不一致：证件号码显示为男性"),
    ({"birth_date": "1988-06-13"}, "birth_date", "出生日期与证件号码不一致：证件号码显示出生日期为1988-06-12"),
    ({"valid_from": "2009-05-20", "valid_to": "2019-05-20"}, "valid_to", "证件已于2019-05-20过期，不能开户"),
    (lambda: {"valid_to": factories.business_date(days=1)}, "valid_to", "过期，不能开户"),
    ({"valid_to": "2019-05-20"}, "valid_to", "必须晚于起始日期"),
    (lambda: {"valid_from": factories.business_date(days=-1)}, "valid_from", "晚于今天"),
    (_under_18, "birth_date", "未满18周岁"),
    ({"name": "Liu Xiaoming"}, "name", "居民身份证姓名只能包含汉字"),
    ({"ethnicity": ""}, "ethnicity", "请选择民族"),
    ({"ethnicity": "火星族"}, "ethnicity", "不是有效的选择"),
], ids=["checksum", "region", "date-in-number", "15-digit", "17-digit", "hmt-as-resident", "sex", "birth",
        "expired", "expired-yesterday", "valid-to-before-from", "valid-from-future", "under-18", "latin-name",
        "no-ethnicity", "unknown-ethnicity"])
def test_identity_document_breaking_a_rule_is_refused_with_422(app, clerk, clerk_id, overrides, field, message):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(**_resolved(overrides)))
    assert_refused(response, field, message)
    assert "identity" not in application_row(app, reference)["completed"]
    assert application_row(app, reference)["id_number"] is None


def test_expired_id_document_is_refused_with_422(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"),
                          factories.identity(valid_from="2000-01-01", valid_to="2020-01-01"))
    assert_refused(response, "valid_to", "证件已于2020-01-01过期，不能开户")
    # Everything else typed is still there.
    assert page_of(response).value("name") == "刘晓明"
    assert page_of(response).value("valid_to") == "2020-01-01"


def test_under_18_customer_is_refused_with_the_age_in_the_message(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(**_under_18()))
    assert_refused(response, "birth_date", "客户未满18周岁（当前17周岁），不能开立证券账户")


@pytest.mark.parametrize("overrides, stored", [
    (_turns_18_today, lambda: {"birth_date": _turns_18_today()["birth_date"]}),
    ({"valid_to": None, "valid_long_term": "y"}, {"valid_to": None}),
    (lambda: {"valid_to": factories.business_date()}, lambda: {"valid_to": business_today().isoformat()}),
    ({"id_type": "hmt_residence_permit", "id_number": HK_PERMIT, "ethnicity": ""},
     {"id_type": "hmt_residence_permit", "id_number": HK_PERMIT, "ethnicity": None}),
    ({"id_number": " " + factories.CUSTOMER_ID[:9] + " " + factories.CUSTOMER_ID[9:] + " "},
     {"id_number": factories.CUSTOMER_ID}),
    ({"id_type": "passport", "id_number": "e1234567 8", "name": "LIU XIAOMING", "ethnicity": ""},
     {"id_type": "passport", "id_number": "E12345678", "name": "LIU XIAOMING"}),
], ids=["turns-18-today", "long-term", "last-valid-day-today", "hk-permit-810000", "spaces-in-number", "passport"])
def test_identity_document_that_passes_the_rules_is_saved(app, clerk, clerk_id, overrides, stored):
    overrides, stored = _resolved(overrides), _resolved(stored)
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(**overrides))
    assert response.status_code == 303, page_of(response).all_errors()
    row = application_row(app, reference)
    for name, value in stored.items():
        assert row["steps"]["identity"][name] == value, name
    assert row["id_number"] == row["steps"]["identity"]["id_number"]
    assert row["customer_name"] == row["steps"]["identity"]["name"]


def test_long_term_document_is_shown_ticked_when_reopened(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    clerk.post(factories.step_url(reference, "identity"), factories.identity(valid_to=None, valid_long_term="y"))
    page = page_of(clerk.get(factories.step_url(reference, "identity")))
    assert page.checked("valid_long_term") == ["y"]
    assert page.value("valid_to") == ""


def test_identity_without_end_date_or_long_term_is_refused_with_422(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(valid_to=None))
    assert_refused(response, "valid_to", "请填写有效期止，或勾选“长期有效”")
    assert "identity" not in application_row(app, reference)["completed"]


def test_changing_the_id_number_after_verification_drops_the_verification(app, clerk, clerk_id, identity_service):
    reference = draft_at(clerk, clerk_id, "agent")
    assert "verification" in application_row(app, reference)["completed"]
    new_id = factories.make_id("110105", "19880612", "335")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(id_number=new_id))
    assert response.status_code == 303
    row = application_row(app, reference)
    assert "verification" not in row["completed"]
    assert {"identity", "contact"} <= row["completed"]
    assert row["id_number"] == new_id
    # The wizard sends the clerk back to verification.
    assert clerk.get(factories.step_url(reference, "agent")).headers["Location"] == \
        factories.step_url(reference, "verification")
    assert clerk.get(f"/opening/{reference}").headers["Location"] == factories.step_url(reference, "verification")


def test_changing_the_name_after_verification_drops_the_verification(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    clerk.post(factories.step_url(reference, "identity"), factories.identity(name="刘小明"))
    assert "verification" not in application_row(app, reference)["completed"]


def test_changing_only_the_address_keeps_the_verification(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    clerk.post(factories.step_url(reference, "identity"), factories.identity(address="北京市东城区东长安街1号"))
    row = application_row(app, reference)
    assert "verification" in row["completed"]
    assert row["steps"]["identity"]["address"] == "北京市东城区东长安街1号"


def test_verification_page_does_not_show_the_old_result_for_a_changed_id_number(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    new_id = factories.make_id("110105", "19880612", "335")
    clerk.post(factories.step_url(reference, "identity"), factories.identity(id_number=new_id))
    body = clerk.get(factories.step_url(reference, "verification")).get_data(as_text=True)
    assert new_id in body
    # The match on record was for the previous number: it must not be presented as this one's result.
    assert "核查结果：一致" not in body


# --- contact rules --------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, field, message", [
    ({"mobile": "12345678901"}, "mobile", "手机号码应以13至19开头"),
    ({"mobile": "1381234800"}, "mobile", "手机号码应为11位，当前为10位"),
    ({"mobile": "138abcd8000"}, "mobile", "手机号码只能包含数字"),
    ({"mobile": "+852 91234567"}, "mobile", "仅支持中国大陆手机号码"),
    ({"postcode": "10002"}, "postcode", "邮政编码应为6位数字"),
    ({"postcode": "1000２２"}, "postcode", "邮政编码应为6位数字"),
    ({"tax_residency": "non_cn"}, "tax_country", "非仅中国税收居民须填写税收居民国（地区）"),
    ({"tax_residency": "non_cn"}, "tax_id", "非仅中国税收居民须填写纳税人识别号"),
    ({"tax_residency": "both", "tax_country": "新加坡"}, "tax_id", "须填写纳税人识别号"),
    ({"employer": ""}, "employer", "在职客户请填写工作单位"),
    ({"employer": "", "occupation": "finance"}, "employer", "在职客户请填写工作单位"),
], ids=["mobile-prefix", "mobile-short", "mobile-letters", "mobile-hk", "postcode-short", "postcode-fullwidth",
        "non-cn-country", "non-cn-tin", "both-tin", "employer", "employer-occupation"])
def test_contact_breaking_a_rule_is_refused_with_422(app, clerk, clerk_id, overrides, field, message):
    reference = draft_at(clerk, clerk_id, "contact")
    response = clerk.post(factories.step_url(reference, "contact"), factories.contact(**overrides))
    assert_refused(response, field, message)
    assert page_of(response).value("address") == factories.contact()["address"]
    assert "contact" not in application_row(app, reference)["completed"]


@pytest.mark.parametrize("overrides, stored", [
    ({"mobile": "+86 138-1234-8000"}, {"mobile": "13812348000"}),
    ({"mobile": "008613812348000"}, {"mobile": "13812348000"}),
    ({"occupation": "student", "employer": ""}, {"occupation": "student", "employer": None}),
    ({"occupation": "retired", "employer": ""}, {"employer": None}),
    ({"tax_residency": "non_cn", "tax_country": "新加坡", "tax_id": "S1234567D"},
     {"tax_residency": "non_cn", "tax_country": "新加坡", "tax_id": "S1234567D"}),
    ({"email": ""}, {"email": None}),
], ids=["mobile-+86", "mobile-0086", "student", "retired", "non-cn-complete", "no-email"])
def test_contact_that_passes_the_rules_is_saved(app, clerk, clerk_id, overrides, stored):
    reference = draft_at(clerk, clerk_id, "contact")
    response = clerk.post(factories.step_url(reference, "contact"), factories.contact(**overrides))
    assert response.status_code == 303, page_of(response).all_errors()
    saved = application_row(app, reference)["steps"]["contact"]
    for name, value in stored.items():
        assert saved[name] == value, name


# --- identity verification --------------------------------------------------------------------------

def test_mismatch_blocks_the_verification_step(app, clerk, clerk_id, identity_service):
    reference = draft_at(clerk, clerk_id, "verification")
    identity_service.script("mismatch")
    response = clerk.post(factories.step_url(reference, "verification"), {})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "核查结果：不一致" in body and "模拟" in body
    assert "不能提交开户申请" in body
    assert "verification" not in application_row(app, reference)["completed"]
    assert verifications(app, reference)[0][:3] == ("mismatch", True, "simulator")
    assert clerk.get(factories.step_url(reference, "agent")).headers["Location"] == \
        factories.step_url(reference, "verification")


def test_mismatch_after_a_match_takes_the_step_back(app, clerk, clerk_id, identity_service):
    reference = draft_at(clerk, clerk_id, "agent")
    identity_service.script("mismatch")
    clerk.post(factories.step_url(reference, "verification"), {})
    assert "verification" not in application_row(app, reference)["completed"]


def test_unavailable_then_retry_with_match_completes_the_step(app, clerk, clerk_id, identity_service):
    reference = draft_at(clerk, clerk_id, "verification")
    identity_service.script("unavailable")
    first = clerk.post(factories.step_url(reference, "verification"), {})
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert "服务不可用" in body and "重新核查" in body
    assert "verification" not in application_row(app, reference)["completed"]

    retry = clerk.post(factories.step_url(reference, "verification"), {})
    assert retry.status_code == 303
    # The match is shown on the verification step before the clerk moves on.
    assert retry.headers["Location"] == factories.step_url(reference, "verification")
    assert [v[0] for v in verifications(app, reference)] == ["unavailable", "match"]
    assert "verification" in application_row(app, reference)["completed"]
    assert identity_service.calls == 2


def test_identity_service_slower_than_its_timeout_counts_as_unavailable(
        app, clerk, clerk_id, identity_service, monkeypatch):
    reference = draft_at(clerk, clerk_id, "verification")
    monkeypatch.setattr(identity_service, "timeout", 0.05)
    identity_service.delay = 0.05
    response = clerk.post(factories.step_url(reference, "verification"), {})
    assert response.status_code == 200
    assert "超时" in response.get_data(as_text=True)
    [(result, simulated, _provider, message, elapsed)] = verifications(app, reference)
    assert result == "unavailable" and simulated is True and "超时" in message
    assert elapsed >= 40
    assert "verification" not in application_row(app, reference)["completed"]


def test_simulated_answer_is_stored_and_shown_as_simulated(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "verification")
    page = clerk.get(factories.step_url(reference, "verification")).get_data(as_text=True)
    assert "内置模拟核查服务" in page
    clerk.post(factories.step_url(reference, "verification"), {})
    [(result, simulated, provider, message, _elapsed)] = verifications(app, reference)
    assert (result, simulated, provider) == ("match", True, "simulator")
    assert "模拟" in message
    step = application_row(app, reference)["steps"]["verification"]
    assert step["result"] == "match" and step["simulated"] is True
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "application.identity_check"))
        assert event.detail == {"result": "match", "simulated": True}


# --- agent -------------------------------------------------------------------------------------------

def test_no_agent_is_saved_and_disclosure_asks_only_the_customer(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), {"has_agent": "no", "agent_name": "忽略"})
    assert response.status_code == 303
    assert application_row(app, reference)["steps"]["agent"] == {"has_agent": False}
    disclosure = page_of(clerk.get(factories.step_url(reference, "disclosure")))
    assert not [i for i in disclosure.inputs if i.get("name") == "agent_acknowledged"]


def test_agent_with_resident_id_card_is_saved(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.resident_agent())
    assert response.status_code == 303, page_of(response).all_errors()
    saved = application_row(app, reference)["steps"]["agent"]
    assert saved["has_agent"] is True and saved["id_number"] == factories.AGENT_ID
    assert saved["valid_to"] is None


def test_agent_with_passport_is_saved(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.passport_agent())
    assert response.status_code == 303, page_of(response).all_errors()
    saved = application_row(app, reference)["steps"]["agent"]
    assert saved == {
        "has_agent": True, "id_type": "passport", "id_number": factories.AGENT_PASSPORT, "name": "刘建华",
        "sex": "M", "birth_date": "1975-01-01", "valid_from": "2015-01-01", "valid_to": None,
        "relationship": "parent", "authorization_ref": "SQ-2026-0001",
        "notarization_no": "(2026)京长安内经证字第1234号",
    }


@pytest.mark.parametrize("overrides, field, message", [
    ({"notarization_no": ""}, "notarization_no", "须提供经公证的授权委托书"),
    ({"relationship": ""}, "relationship", "请选择代理人与客户的关系"),
    ({"authorization_ref": ""}, "authorization_ref", "请填写授权委托书编号"),
    ({"agent_valid_long_term": None, "agent_valid_from": "2010-01-01", "agent_valid_to": "2020-01-01"},
     "agent_valid_to", "证件已于2020-01-01过期"),
    ({"agent_name": ""}, "agent_name", "此项为必填项"),
], ids=["notarization", "relationship", "authorization", "expired-document", "name"])
def test_agent_breaking_a_rule_is_refused_with_422(app, clerk, clerk_id, overrides, field, message):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.passport_agent(**overrides))
    assert_refused(response, field, message)
    page = page_of(response)
    assert page.checked("has_agent") == ["yes"]
    assert page.value("agent_id_number") == factories.AGENT_PASSPORT
    assert "agent" not in application_row(app, reference)["completed"]


def test_agent_who_is_the_customer_is_refused(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.agent(
        agent_id_number=factories.CUSTOMER_ID, agent_name="刘晓明", agent_sex="M", agent_birth_date="1988-06-12"))
    assert_refused(response, "agent_id_number", "代理人不能是客户本人")
    assert "agent" not in application_row(app, reference)["completed"]


def test_agent_who_is_the_passport_customer_is_refused(app, clerk, clerk_id):
    customer = factories.identity(id_type="passport", id_number="E99887766", name="LIU XIAOMING", ethnicity="")
    reference = draft_at(clerk, clerk_id, "agent", identity=customer)
    response = clerk.post(factories.step_url(reference, "agent"),
                          factories.passport_agent(agent_id_number="e9988 7766"))
    assert_refused(response, "agent_id_number", "代理人不能是客户本人")


def test_agent_with_an_expired_resident_id_card_is_refused(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.resident_agent(
        agent_valid_long_term=None, agent_valid_from="2005-01-01", agent_valid_to="2025-01-01"))
    assert_refused(response, "agent_valid_to", "证件已于2025-01-01过期")


def test_agent_without_end_date_or_long_term_is_refused_with_422(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agent")
    response = clerk.post(factories.step_url(reference, "agent"), factories.passport_agent(agent_valid_long_term=None))
    assert_refused(response, "agent_valid_to", "请填写有效期止，或勾选“长期有效”")


# --- disclosure -------------------------------------------------------------------------------------

def test_disclosure_requires_the_customers_acknowledgement(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "disclosure")
    response = clerk.post(factories.step_url(reference, "disclosure"), {"explained_by": str(clerk_id)})
    assert_refused(response, "customer_acknowledged", "须由客户阅读并签字确认风险揭示书")
    assert page_of(response).select_value("explained_by") == str(clerk_id)
    assert "disclosure" not in application_row(app, reference)["completed"]


def test_disclosure_with_an_agent_requires_the_agents_acknowledgement(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "disclosure", agent_data=factories.passport_agent())
    response = clerk.post(factories.step_url(reference, "disclosure"), factories.disclosure(clerk_id))
    assert_refused(response, "agent_acknowledged", "代理人也须接受投资者教育并签字确认")
    assert "disclosure" not in application_row(app, reference)["completed"]


def test_disclosure_with_an_agent_and_both_acknowledgements_is_saved(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "disclosure", agent_data=factories.passport_agent())
    manager_id = staff_id(app, "manager")
    response = clerk.post(factories.step_url(reference, "disclosure"),
                          factories.disclosure(manager_id, agent_acknowledged="y"))
    assert response.status_code == 303
    saved = application_row(app, reference)["steps"]["disclosure"]
    assert saved == {"version": choices.DISCLOSURE_VERSION, "explained_by": manager_id,
                     "customer_acknowledged": True, "agent_acknowledged": True}


@pytest.mark.parametrize("explainer", ["clerk_sh", "archivist", "marketing"])
def test_disclosure_explained_by_someone_not_eligible_is_refused(app, clerk, clerk_id, explainer):
    reference = draft_at(clerk, clerk_id, "disclosure")
    response = clerk.post(factories.step_url(reference, "disclosure"),
                          factories.disclosure(staff_id(app, explainer)))
    assert response.status_code == 422
    assert page_of(response).errors_for("explained_by")
    assert "disclosure" not in application_row(app, reference)["completed"]


# --- suitability ------------------------------------------------------------------------------------

def test_missing_answer_is_refused_with_the_question_named(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "suitability")
    answers = factories.answers()
    del answers["q05"]
    response = clerk.post(factories.step_url(reference, "suitability"), answers)
    assert_refused(response, "question-q05", "请回答第5题")
    page = page_of(response)
    assert page.checked("q01") == [answers["q01"]] and page.checked("q16") == [answers["q16"]]
    assert assessments(app, reference) == []
    assert "suitability" not in application_row(app, reference)["completed"]


@pytest.mark.parametrize("change, message", [
    ({"q03": "Z"}, "第3题没有选项“Z”"),
    ({"q01": ["A", "B"]}, "第1题只能选择一个选项"),
    ({"q07": ["C", "C"]}, "第7题的选项重复"),
])
def test_bad_answer_is_refused_with_the_question_named(app, clerk, clerk_id, change, message):
    reference = draft_at(clerk, clerk_id, "suitability")
    answers = factories.answers()
    answers.update(change)
    response = clerk.post(factories.step_url(reference, "suitability"), answers)
    question = next(iter(change))
    assert_refused(response, f"question-{question}", message)
    assert assessments(app, reference) == []


def test_best_answers_give_c5_with_answers_assessor_and_expiry_stored(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "suitability")
    response = clerk.post(factories.step_url(reference, "suitability"), factories.answers())
    assert response.status_code == 303
    [assessment] = assessments(app, reference)
    assert assessment.investor_class == "C5" and assessment.is_lowest is False
    assert assessment.score == factories.QUESTIONNAIRE["max_score"]
    assert assessment.answers == {k: [v] for k, v in factories.answers().items()}
    assert assessment.assessor_id == clerk_id
    assert assessment.expires_on == business_today() + timedelta(days=factories.QUESTIONNAIRE["validity_days"])
    step = application_row(app, reference)["steps"]["suitability"]
    assert step["investor_class"] == "C5" and step["assessment_id"] == assessment.id
    assert step["questionnaire"] == factories.QUESTIONNAIRE["version"]
    again = clerk.get(factories.step_url(reference, "suitability")).get_data(as_text=True)
    assert "C5 激进型" in again


def test_knock_out_option_gives_c1_lowest_class(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "suitability")
    answers = factories.answers()
    answers[KNOCK_OUT_QUESTION["key"]] = KNOCK_OUT_OPTION
    response = clerk.post(factories.step_url(reference, "suitability"), answers)
    assert response.status_code == 303
    [assessment] = assessments(app, reference)
    assert assessment.investor_class == "C1" and assessment.is_lowest is True
    assert assessment.answers[KNOCK_OUT_QUESTION["key"]] == [KNOCK_OUT_OPTION]
    body = clerk.get(factories.step_url(reference, "suitability")).get_data(as_text=True)
    assert "C1 保守型（最低类别）" in body


def test_multiple_choice_answer_is_stored_in_full(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "suitability")
    answers = factories.answers()
    answers["q07"] = ["B", "C"]
    assert clerk.post(factories.step_url(reference, "suitability"), answers).status_code == 303
    [assessment] = assessments(app, reference)
    assert assessment.answers["q07"] == ["B", "C"]


def test_answering_again_keeps_both_assessments_and_uses_the_latest(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "suitability")
    clerk.post(factories.step_url(reference, "suitability"), factories.answers())
    clerk.post(factories.step_url(reference, "suitability"), factories.answers("worst"))
    first, second = assessments(app, reference)
    assert first.investor_class == "C5" and second.investor_class == "C1" and not second.is_lowest
    assert application_row(app, reference)["steps"]["suitability"]["assessment_id"] == second.id


# --- agreements -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, title", list(choices.AGREEMENTS.items()))
def test_each_unticked_agreement_is_named(app, clerk, clerk_id, key, title):
    reference = draft_at(clerk, clerk_id, "agreements")
    response = clerk.post(factories.step_url(reference, "agreements"),
                          factories.agreements(**{f"agreement_{key}": None}))
    assert_refused(response, f"agreement_{key}", f"客户须签署{title}")
    page = page_of(response)
    others = [k for k in choices.AGREEMENTS if k != key]
    assert all(page.checked(f"agreement_{k}") == ["y"] for k in others)
    assert not page.errors_for(f"agreement_{others[0]}")
    assert page.select_value("change_method") == "counter"
    assert "agreements" not in application_row(app, reference)["completed"]


def test_no_agreement_ticked_names_all_four(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agreements")
    response = clerk.post(factories.step_url(reference, "agreements"),
                          {"change_method": "counter", "closure_method": "counter"})
    assert response.status_code == 422
    errors = page_of(response).all_errors()
    assert all(f"客户须签署{title}" in errors for title in choices.AGREEMENTS.values())


@pytest.mark.parametrize("field, message", [
    ("change_method", "请选择关键信息变更方式"),
    ("closure_method", "请选择账户注销方式"),
])
def test_change_and_closure_methods_are_required(app, clerk, clerk_id, field, message):
    reference = draft_at(clerk, clerk_id, "agreements")
    response = clerk.post(factories.step_url(reference, "agreements"), factories.agreements(**{field: None}))
    assert_refused(response, field, message)


def test_agreements_are_stored_with_both_methods(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "agreements")
    clerk.post(factories.step_url(reference, "agreements"),
               factories.agreements(change_method="online", closure_method="witness"))
    assert application_row(app, reference)["steps"]["agreements"] == {
        "agreements": sorted(choices.AGREEMENTS), "change_method": "online", "closure_method": "witness",
        "bank_code": "ICBC", "bank_card": factories.BANK_CARD}


WRONG_CHECK_DIGIT_CARD = factories.BANK_CARD[:-1] + str((int(factories.BANK_CARD[-1]) + 1) % 10)


@pytest.mark.parametrize("card, message", [
    ("", "此项为必填项"),
    ("62220202001122", "银行卡号应为16至19位数字"),
    (WRONG_CHECK_DIGIT_CARD, "银行卡号校验位错误"),
    ("6222abcd00112233445", "银行卡号应为16至19位数字"),
], ids=["empty", "short", "check-digit", "letters"])
def test_depository_bank_card_is_checked(app, clerk, clerk_id, card, message):
    reference = draft_at(clerk, clerk_id, "agreements")
    response = clerk.post(factories.step_url(reference, "agreements"), factories.agreements(bank_card=card))
    assert_refused(response, "bank_card", message)
    assert "agreements" not in application_row(app, reference)["completed"]


# --- summary and submission ---------------------------------------------------------------------------

def test_summary_of_an_incomplete_draft_sends_the_clerk_to_the_first_missing_step(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "disclosure")
    for response in (clerk.get(factories.step_url(reference, "summary")),
                     clerk.post(factories.step_url(reference, "summary"), {})):
        assert response.status_code == 303
        assert response.headers["Location"] == factories.step_url(reference, "disclosure")
    assert application_row(app, reference)["status"] == "draft"
    assert status_changes(app, reference) == []


def _existing_customer_identity(name: str) -> dict:
    return factories.identity(id_number=factories.EXISTING_CUSTOMER_ID, name=name, sex="F", birth_date="1949-12-31")


def test_same_id_number_as_an_existing_customer_with_another_name_is_refused_at_the_identity_step(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), _existing_customer_identity("刘晓明"))
    assert_refused(response, "id_number", "已有客户 C0101000001 使用该证件号码，但姓名为“张建国”，与本次录入（刘晓明，居民身份证）不一致")
    # Nothing else typed is lost.
    assert page_of(response).value("address") == factories.identity()["address"]
    assert "identity" not in application_row(app, reference)["completed"]


def test_a_conflict_that_arises_after_the_identity_step_is_still_refused_at_submit(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    with app.app_context():
        branch_id = db.session.scalar(select(Application.branch_id).where(Application.reference == reference))
        factories.existing_customer("C0101999999", branch_id, "刘小明", factories.CUSTOMER_ID, id_type="resident_id")
        db.session.commit()
    summary = clerk.get(factories.step_url(reference, "summary")).get_data(as_text=True)
    assert "关键信息一致性校验未通过" in summary
    response = clerk.post(factories.step_url(reference, "summary"), {})
    assert response.status_code == 422
    assert "已有客户 C0101999999 使用该证件号码，但姓名为“刘小明”" in response.get_data(as_text=True)
    assert application_row(app, reference)["status"] == "draft"
    assert status_changes(app, reference) == []


def test_same_id_number_name_and_type_as_an_existing_customer_is_no_conflict(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary", identity=_existing_customer_identity("张建国"),
                         suitability=factories.answers(birth_date="1949-12-31"))
    summary = clerk.get(factories.step_url(reference, "summary")).get_data(as_text=True)
    assert "关键信息一致性校验通过" in summary
    response = clerk.post(factories.step_url(reference, "summary"), {})
    assert response.status_code == 303
    assert application_row(app, reference)["status"] == "submitted"


def test_another_branchs_customer_under_another_name_is_refused_without_its_details(app, clerk, clerk_id):
    from blueprints.auth.models import Branch

    with app.app_context():
        shanghai = db.session.scalar(select(Branch.id).where(Branch.code != "0101", Branch.code != "0000"))
        factories.existing_customer("C0201777777", shanghai, "刘小明", factories.CUSTOMER_ID, id_type="resident_id")
        db.session.commit()
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity())
    assert_refused(response, "id_number", "该证件号码已属于一位现有客户，但姓名或证件类型与本次录入不一致")
    body = response.get_data(as_text=True)
    assert "C0201777777" not in body and "刘小明" not in body


def test_same_id_number_in_another_branchs_application_with_another_name_is_refused(app, clerk, clerk_id):
    shanghai = login_as(app, "clerk_sh")
    other = factories.start(shanghai, "tok-sh")
    factories.walk_with(shanghai, other, "contact", staff_id(app, "clerk_sh"), identity=factories.identity(name="刘小明"))
    reference = draft_at(clerk, clerk_id, "summary")
    response = clerk.post(factories.step_url(reference, "summary"), {})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    # Another branch's application is named to nobody: neither its reference nor the name on it.
    assert "该证件号码已属于一位在途开户申请的客户，但姓名或证件类型与本次录入不一致" in body
    assert other not in body and "刘小明" not in body


def test_second_application_for_a_customer_already_in_review_is_refused(app, clerk, clerk_id):
    first = draft_at(clerk, clerk_id, "summary", token="tok-first")
    assert clerk.post(factories.step_url(first, "summary"), {}).status_code == 303
    second = draft_at(clerk, clerk_id, "summary", token="tok-second")
    response = clerk.post(factories.step_url(second, "summary"), {})
    assert response.status_code == 422
    assert f"该客户已有在途开户申请 {first}（待复核），不能重复提交" in response.get_data(as_text=True)
    assert application_row(app, second)["status"] == "draft"


def test_adding_an_agent_after_the_disclosure_requires_the_agents_acknowledgement_again(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    assert clerk.post(factories.step_url(reference, "agent"), factories.passport_agent()).status_code == 303
    response = clerk.post(factories.step_url(reference, "summary"), {})
    # The disclosure on file was signed without an agent; submitting now would skip 第七条 for the agent.
    # (The agent's ID and authorisation must be scanned too: the wizard goes back to the first of those steps.)
    assert response.status_code != 303 or response.headers["Location"].endswith(("/step/documents", "/step/disclosure"))
    assert application_row(app, reference)["status"] == "draft"


def test_double_submit_gives_one_submission(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    first = clerk.post(factories.step_url(reference, "summary"), {})
    second = clerk.post(factories.step_url(reference, "summary"), {})
    assert first.status_code == 303
    assert second.status_code < 500
    assert application_row(app, reference)["status"] == "submitted"
    assert status_changes(app, reference) == [("draft", "submitted", None)]
    with app.app_context():
        submits = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "application.submit"))
        submitted_at = db.session.scalar(select(Application.submitted_at).where(Application.reference == reference))
    assert submits == 1 and submitted_at is not None


def test_second_submit_post_lands_on_the_confirmation_page(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    clerk.post(factories.step_url(reference, "summary"), {})
    second = clerk.post(factories.step_url(reference, "summary"), {})
    # A double click must not show "无权操作" for a submission that went through.
    assert second.status_code == 303
    assert second.headers["Location"] == f"/opening/{reference}/submitted"


def test_submitted_application_is_read_only_for_the_clerk(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    clerk.post(factories.step_url(reference, "summary"), {})
    get = clerk.get(factories.step_url(reference, "identity"))
    assert get.status_code == 303 and get.headers["Location"] == f"/opening/{reference}/detail"
    post = clerk.post(factories.step_url(reference, "identity"), factories.identity(name="刘小明"))
    assert post.status_code == 403
    assert application_row(app, reference)["customer_name"] == "刘晓明"
    todo, _, submitted = clerk.get("/opening/").get_data(as_text=True).partition('id="my-submitted"')
    assert reference not in todo and reference in submitted


def test_double_new_with_the_same_client_token_creates_one_application(app, clerk):
    data = {"channel": "onsite", "customer_type": "individual", "client_token": "same-token"}
    first = clerk.post("/opening/new", data)
    second = clerk.post("/opening/new", data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_applications(app) == 1
    clerk.post("/opening/new", dict(data, client_token="other-token"))
    assert count_applications(app) == 2


def test_new_form_carries_a_fresh_client_token(clerk):
    tokens = [page_of(clerk.get("/opening/new")).value("client_token") for _ in range(2)]
    assert all(tokens) and tokens[0] != tokens[1]


@pytest.mark.parametrize("data, message", [
    ({"channel": "online", "customer_type": "individual"}, "暂不支持网上开户，请选择现场开户或见证开户"),
    ({"channel": "onsite", "customer_type": "institution"}, "暂只支持个人客户开户"),
], ids=["online", "institution"])
def test_channel_not_yet_offered_is_refused_with_422(app, clerk, data, message):
    response = clerk.post("/opening/new", dict(data, client_token="tok-x"))
    assert response.status_code == 422
    assert message in page_of(response).all_errors()
    assert count_applications(app) == 0


def test_withdrawn_draft_leaves_the_drafts_list(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "contact")
    assert reference in clerk.get("/opening/").get_data(as_text=True)
    response = clerk.post(f"/opening/{reference}/withdraw", {"reason": "客户改变主意"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/opening/"
    assert application_row(app, reference)["status"] == "withdrawn"
    assert status_changes(app, reference) == [("draft", "withdrawn", "客户改变主意")]
    assert reference not in clerk.get("/opening/").get_data(as_text=True)
    assert reference not in clerk.get("/").get_data(as_text=True)
    assert clerk.get(factories.step_url(reference, "identity")).headers["Location"] == f"/opening/{reference}/detail"
    assert clerk.post(factories.step_url(reference, "contact"), factories.contact()).status_code == 403
    # A second click on 作废 does nothing more.
    assert clerk.post(f"/opening/{reference}/withdraw", {}).status_code == 303
    assert len(status_changes(app, reference)) == 1


def test_withdraw_without_a_reason_is_refused_next_to_the_field(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    response = clerk.post(f"/opening/{reference}/withdraw", {"reason": "   "})
    assert_refused(response, "reason_code", "请选择作废原因")
    assert status_changes(app, reference) == []


@pytest.mark.parametrize("data, recorded", [
    ({"reason_code": "customer_gave_up"}, "客户放弃开户"),
    ({"reason_code": "duplicate", "reason": "与KH2026的申请重复"}, "重复录入：与KH2026的申请重复"),
    ({"reason_code": "other", "reason": "客户出国"}, "客户出国"),
])
def test_withdraw_records_the_chosen_reason(app, clerk, clerk_id, data, recorded):
    reference = draft_at(clerk, clerk_id, "identity")
    assert clerk.post(f"/opening/{reference}/withdraw", data).status_code == 303
    assert status_changes(app, reference) == [("draft", "withdrawn", recorded)]


def test_withdraw_other_without_a_note_is_refused(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    assert_refused(clerk.post(f"/opening/{reference}/withdraw", {"reason_code": "other"}), "reason",
                   "选择“其他原因”时，请填写说明")


def test_withdraw_needs_post(clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    assert clerk.get(f"/opening/{reference}/withdraw").status_code == 405


# --- garbage never gives a 500 ---------------------------------------------------------------------

HUGE = "测" * 20000
GARBAGE = [
    ("identity", factories.identity(id_type="national_id")),
    ("identity", factories.identity(id_type="")),
    ("identity", factories.identity(name=HUGE, address=HUGE, authority=HUGE, id_number=HUGE)),
    ("identity", factories.identity(birth_date="31/12/1990", valid_from="yesterday", valid_to="长期")),
    ("identity", factories.identity(birth_date="1990-02-30")),
    ("identity", factories.identity(sex="X", ethnicity="<script>")),
    ("identity", factories.identity(id_number="١١٠١٠٥١٩٨٨٠٦١٢٣١٥٧")),
    ("identity", {}),
    ("contact", factories.contact(mobile=HUGE)),
    ("contact", factories.contact(postcode=HUGE, email=HUGE)),
    ("contact", factories.contact(occupation="astronaut", education="phd", tax_residency="mars")),
    ("contact", {}),
    ("agent", {"has_agent": "maybe"}),
    ("agent", factories.passport_agent(agent_id_type="badge", agent_birth_date="not-a-date")),
    ("agent", factories.passport_agent(agent_id_number=HUGE, agent_name=HUGE, notarization_no=HUGE)),
    ("agent", {"has_agent": "yes"}),
    ("disclosure", {"explained_by": "abc", "customer_acknowledged": "y"}),
    ("disclosure", {"explained_by": "999999", "customer_acknowledged": "y"}),
    ("disclosure", {"explained_by": HUGE, "customer_acknowledged": HUGE}),
    ("suitability", {"q01": HUGE}),
    ("suitability", dict(factories.answers(), q01="")),
    ("suitability", {}),
    ("agreements", factories.agreements(change_method="fax", closure_method=HUGE)),
    ("channel", {"channel": "carrier-pigeon", "customer_type": "alien"}),
]


@pytest.mark.parametrize("key, payload", GARBAGE, ids=[f"{k}-{i}" for i, (k, _p) in enumerate(GARBAGE)])
def test_garbage_input_is_refused_with_4xx_never_500(app, clerk, clerk_id, key, payload):
    reference = draft_at(clerk, clerk_id, key if key != "channel" else "identity")
    before = application_row(app, reference)
    response = clerk.post(factories.step_url(reference, key), payload)
    assert 400 <= response.status_code < 500, response.status_code
    after = application_row(app, reference)
    assert after["steps"] == before["steps"]


@pytest.mark.parametrize("data", [
    {"channel": "onsite", "customer_type": "individual", "client_token": HUGE},
    {"channel": "carrier-pigeon", "customer_type": "individual", "client_token": "t"},
    {"channel": "online", "customer_type": "individual", "client_token": "t"},
    {"channel": "onsite", "customer_type": "individual"},
    {},
])
def test_garbage_on_new_never_gives_500(app, clerk, data):
    response = clerk.post("/opening/new", data)
    assert response.status_code in (303, 422), response.status_code
    if response.status_code == 303:
        with app.app_context():
            tokens = db.session.scalars(select(Application.client_token)).all()
        assert all(len(token) <= 64 for token in tokens)


@pytest.mark.parametrize("url", [
    "/opening/" + "K" * 5000,
    "/opening/KH'%20OR%201=1--/detail",
    "/opening/KH20260101000001/step/..%2Fdetail",
])
def test_garbage_urls_are_404(clerk, url):
    assert clerk.get(url).status_code == 404


def test_a_nul_in_a_url_is_refused_with_400_before_any_lookup(clerk):
    # PostgreSQL refuses NUL in any text value: it is refused at the request's boundary, in Chinese.
    response = clerk.get("/opening/%00/step/identity")
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_withdraw_with_a_huge_reason_is_refused_with_its_limit(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "identity")
    assert_refused(clerk.post(f"/opening/{reference}/withdraw", {"reason": HUGE}), "reason", "说明不超过200字")
    assert status_changes(app, reference) == []


def test_audit_trail_of_a_submission_names_fields_not_values(app, clerk, clerk_id):
    reference = draft_at(clerk, clerk_id, "summary")
    clerk.post(factories.step_url(reference, "summary"), {})
    with app.app_context():
        details = [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == reference))]
    saves = [d for d in details if "fields" in d]
    assert saves and all(isinstance(d["fields"], list) for d in saves)
    assert not [d for d in details if "刘晓明" in str(d) or factories.CUSTOMER_ID in str(d)]


def test_second_clerk_of_the_branch_can_be_named_as_explainer(app, clerk, clerk_id):
    colleague = add_staff(app, "clerk2", "clerk", "0101", "陈柜员")
    reference = draft_at(clerk, clerk_id, "disclosure")
    response = clerk.post(factories.step_url(reference, "disclosure"), factories.disclosure(colleague))
    assert response.status_code == 303
    assert application_row(app, reference)["steps"]["disclosure"]["explained_by"] == colleague


@pytest.mark.parametrize("key, payload, field", [
    ("identity", factories.identity(sex=None), "sex"),
    ("contact", factories.contact(tax_residency=None), "tax_residency"),
    ("agent", {}, "has_agent"),
])
def test_unanswered_choice_is_explained_in_chinese_only(clerk, clerk_id, key, payload, field):
    reference = draft_at(clerk, clerk_id, key)
    response = clerk.post(factories.step_url(reference, key), payload)
    assert response.status_code == 422
    errors = page_of(response).errors_for(field)
    assert errors and not [e for e in errors if e.isascii()], errors
