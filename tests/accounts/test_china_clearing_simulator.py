"""The China Clearing simulator: the 一码通 query, registration changes, link confirmation and closure."""
from datetime import datetime

import pytest
from sqlalchemy import select

from blueprints.accounts.china_clearing import (
    OpenAccountsRequest, SimulatedChinaClearing, sim_sub_account, sim_unified_account,
)
from core.extensions import db
from core.outbox import OutsideServiceHours, Rejected, TransientError

ID_NUMBER = "110105198806121231"
NEW_ID_NUMBER = "110105198806121223"


@pytest.fixture
def csdc(app):
    csdc = app.extensions["china_clearing"]
    with app.app_context():
        yield csdc
    csdc.reset()


@pytest.fixture
def opened(csdc):
    """Open a 一码通 with a Shanghai and a Shenzhen sub-account; return the answer."""
    counter = iter(range(1, 100))

    def open_(id_number=ID_NUMBER, markets=("SH", "SZ"), name="张三") -> dict:
        request = OpenAccountsRequest(name=name, id_type="resident_id", id_number=id_number, markets=markets,
                                      mobile="13800138000", address="北京市朝阳区建国路1号", postcode="100020")
        return csdc.open_accounts(request, f"test-open-{next(counter)}")
    return open_


def numbers(answer: dict) -> dict:
    return {sub["market"]: sub["number"] for sub in answer["sub_accounts"]}


def test_query_of_an_unknown_id_number_finds_no_unified_account(csdc):
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三") is None


def test_query_answers_the_unified_account_with_its_sub_accounts_and_registration(csdc, opened):
    answer = opened()
    found = csdc.query_unified_account("resident_id", ID_NUMBER, "张三")
    assert found["unified_account_no"] == answer["unified_account_no"]
    assert (found["name"], found["id_type"], found["status"]) == ("张三", "resident_id", "normal")
    assert found["simulated"] is True
    assert found["sub_accounts"] == [
        {"market": m, "number": numbers(answer)[m], "status": "normal", "link_state": "confirmed", "firm": "ours"}
        for m in ("SH", "SZ")
    ]
    assert (found["mobile"], found["address"], found["postcode"]) == ("13800138000", "北京市朝阳区建国路1号", "100020")


def test_the_simulator_keeps_no_plaintext_id_number(csdc, opened):
    opened()
    row = db.session.execute(select(sim_unified_account)).one()
    db.session.rollback()
    assert ID_NUMBER not in [str(value) for value in row]


def test_a_contact_change_is_applied(csdc, opened):
    unified_no = opened()["unified_account_no"]
    answer = csdc.change_registration(unified_no, {"mobile": "13900139000", "email": "z@example.com",
                                                   "id_valid_to": "2046-06-01"}, "chg-1")
    assert answer == {"accepted": True, "unified_account_no": unified_no, "simulated": True}
    found = csdc.query_unified_account("resident_id", ID_NUMBER, "张三")
    assert (found["mobile"], found["email"], found["id_valid_to"]) == ("13900139000", "z@example.com", "2046-06-01")


def test_an_unconfirmed_link_refuses_a_key_change_naming_the_account_until_it_is_confirmed(csdc, opened):
    answer = opened()
    unified_no, sh = answer["unified_account_no"], numbers(answer)["SH"]
    assert csdc.mark_link_unconfirmed(unified_no, "SH") == [sh]

    with pytest.raises(Rejected) as refused:
        csdc.change_registration(unified_no, {"name": "张叁"}, "chg-name")
    assert str(refused.value) == (f"中国结算拒绝：一码通下存在未确认关联关系的证券账户：上海A股账户 {sh}，"
                                  "须先办理关联关系确认")
    # Contact details are not key information: accepted meanwhile.
    assert csdc.change_registration(unified_no, {"mobile": "13900139000"}, "chg-mobile")["accepted"]

    assert csdc.confirm_links(unified_no, [sh], "confirm-1") == {"confirmed": [sh], "simulated": True}
    assert csdc.change_registration(unified_no, {"name": "张叁"}, "chg-name")["accepted"]
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张叁")["name"] == "张叁"


@pytest.mark.parametrize("status", ["closed", "dormant", "unqualified"])
def test_unconfirmed_links_of_closed_dormant_or_unqualified_sub_accounts_do_not_count(csdc, opened, status):
    answer = opened()
    unified_no = answer["unified_account_no"]
    csdc.mark_link_unconfirmed(unified_no, "SH")
    csdc.set_sub_account_status(numbers(answer)["SH"], status)
    assert csdc.change_registration(unified_no, {"id_type": "passport"}, "chg")["accepted"]


def test_an_unconfirmed_link_at_another_firm_also_blocks_a_key_change(csdc, opened):
    unified_no = opened()["unified_account_no"]
    other = csdc.add_other_firm_sub_account(unified_no, "SZ")
    db.session.execute(sim_sub_account.update().where(sim_sub_account.c.number == other)
                       .values(link_state="unconfirmed"))
    db.session.commit()
    with pytest.raises(Rejected, match=f"深圳A股账户 {other}"):
        csdc.change_registration(unified_no, {"id_number": NEW_ID_NUMBER}, "chg")


def test_a_changed_id_number_is_found_under_the_new_number_only(csdc, opened):
    unified_no = opened()["unified_account_no"]
    csdc.change_registration(unified_no, {"id_number": NEW_ID_NUMBER}, "chg-id")
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三") is None
    assert csdc.query_unified_account("resident_id", NEW_ID_NUMBER, "张三")["unified_account_no"] == unified_no


def test_an_id_number_registered_to_another_unified_account_is_refused(csdc, opened):
    unified_no = opened()["unified_account_no"]
    opened(id_number=NEW_ID_NUMBER, name="李四")
    with pytest.raises(Rejected, match="另一一码通账户"):
        csdc.change_registration(unified_no, {"id_number": NEW_ID_NUMBER}, "chg-id")


def test_a_repeated_key_returns_the_first_answer_and_changes_nothing_more(csdc, opened):
    unified_no = opened()["unified_account_no"]
    first = csdc.change_registration(unified_no, {"mobile": "13900139000"}, "chg-same")
    again = csdc.change_registration(unified_no, {"mobile": "13700137000"}, "chg-same")
    assert again == first
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三")["mobile"] == "13900139000"


@pytest.mark.parametrize("changes, reason", [
    ({"occupation": "教师"}, "不受理以下项目的变更：occupation"),
    ({"name": ""}, "不能为空"),
])
def test_changes_china_clearing_does_not_take_are_refused(csdc, opened, changes, reason):
    unified_no = opened()["unified_account_no"]
    with pytest.raises(Rejected, match=reason):
        csdc.change_registration(unified_no, changes, "chg")


def test_changes_to_an_unknown_or_closed_unified_account_are_refused(csdc, opened):
    with pytest.raises(Rejected, match="一码通账户 180000000000 不存在"):
        csdc.change_registration("180000000000", {"mobile": "13900139000"}, "chg-1")
    answer = opened()
    unified_no = answer["unified_account_no"]
    csdc.close_sub_accounts(unified_no, list(numbers(answer).values()), "close-subs")
    assert csdc.close_unified_account(unified_no, "close")["closed"]
    with pytest.raises(Rejected, match="已注销"):
        csdc.change_registration(unified_no, {"mobile": "13900139000"}, "chg-2")


def test_confirming_a_sub_account_of_another_unified_account_is_refused(csdc, opened):
    unified_no = opened()["unified_account_no"]
    stranger = numbers(opened(id_number=NEW_ID_NUMBER, name="李四"))["SH"]
    with pytest.raises(Rejected, match=f"证券账户 {stranger} 不在一码通账户 {unified_no} 下"):
        csdc.confirm_links(unified_no, [stranger], "confirm")


def test_a_new_sub_account_is_refused_while_a_link_is_unconfirmed(csdc, opened):
    first = opened(markets=("SH",))
    csdc.mark_link_unconfirmed(first["unified_account_no"], "SH")
    with pytest.raises(Rejected, match=f"上海A股账户 {numbers(first)['SH']}"):
        opened(markets=("SH", "SZ"))
    assert opened(markets=("SH",))["reused"]  # nothing new asked for: the existing account is answered


def test_closing_sub_accounts_then_the_unified_account(csdc, opened):
    answer = opened()
    unified_no, subs = answer["unified_account_no"], list(numbers(answer).values())

    with pytest.raises(Rejected, match="尚有未注销的证券账户"):
        csdc.close_unified_account(unified_no, "close-early")
    assert csdc.close_sub_accounts(unified_no, subs, "close-subs") == {"closed": subs, "simulated": True}
    assert csdc.close_unified_account(unified_no, "close") == {"closed": True, "other_firms": False, "simulated": True}

    found = csdc.query_unified_account("resident_id", ID_NUMBER, "张三")
    assert found["status"] == "closed" and {sub["status"] for sub in found["sub_accounts"]} == {"closed"}


@pytest.mark.parametrize("status", ["normal", "dormant", "unqualified"])
def test_a_unified_account_another_firm_still_uses_stays_open_without_an_error(csdc, opened, status):
    answer = opened()
    unified_no = answer["unified_account_no"]
    other = csdc.add_other_firm_sub_account(unified_no, "SH", firm="F0123")
    csdc.set_sub_account_status(other, status)
    csdc.close_sub_accounts(unified_no, list(numbers(answer).values()), "close-subs")

    assert csdc.close_unified_account(unified_no, "close") == {"closed": False, "other_firms": True, "simulated": True}
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三")["status"] == "normal"


def test_a_unified_account_whose_other_firm_account_is_closed_can_be_closed(csdc, opened):
    answer = opened()
    unified_no = answer["unified_account_no"]
    csdc.set_sub_account_status(csdc.add_other_firm_sub_account(unified_no, "SH"), "closed")
    csdc.close_sub_accounts(unified_no, list(numbers(answer).values()), "close-subs")
    assert csdc.close_unified_account(unified_no, "close")["closed"] is True


def test_another_firms_sub_account_cannot_be_closed_by_us(csdc, opened):
    unified_no = opened()["unified_account_no"]
    other = csdc.add_other_firm_sub_account(unified_no, "SH")
    with pytest.raises(Rejected, match=f"上海A股账户 {other} 由其他证券公司管理"):
        csdc.close_sub_accounts(unified_no, [other], "close-other")


def test_a_returning_customer_gets_the_closed_unified_account_reopened_with_new_sub_accounts(csdc, opened):
    first = opened()
    unified_no = first["unified_account_no"]
    csdc.close_sub_accounts(unified_no, list(numbers(first).values()), "close-subs")
    csdc.close_unified_account(unified_no, "close")

    again = opened()

    assert again["unified_account_no"] == unified_no and again["reused"]
    assert set(numbers(again).values()).isdisjoint(numbers(first).values())
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三")["status"] == "normal"


def test_test_helpers_refuse_what_does_not_exist(csdc, opened):
    with pytest.raises(LookupError):
        csdc.mark_link_unconfirmed("180000000000", "SH")
    with pytest.raises(LookupError):
        csdc.set_sub_account_status("A000000000", "closed")
    with pytest.raises(ValueError):
        csdc.set_sub_account_status(numbers(opened())["SH"], "frozen")


def test_outside_service_hours_every_call_is_refused_until_the_opening(csdc, opened):
    unified_no = opened()["unified_account_no"]
    csdc.set_service_hours("09:00-16:00")
    csdc.clock = lambda: datetime(2026, 12, 5, 2, 0)  # Saturday 10:00 in Beijing
    calls = [
        lambda: csdc.query_unified_account("resident_id", ID_NUMBER, "张三"),
        lambda: csdc.change_registration(unified_no, {"mobile": "13900139000"}, "chg"),
        lambda: csdc.confirm_links(unified_no, [], "confirm"),
        lambda: csdc.close_sub_accounts(unified_no, [], "close-subs"),
        lambda: csdc.close_unified_account(unified_no, "close"),
        lambda: opened(id_number=NEW_ID_NUMBER),
    ]
    for call in calls:
        with pytest.raises(OutsideServiceHours) as closed:
            call()
        assert closed.value.next_open == datetime(2026, 12, 7, 1, 0)

    csdc.clock = lambda: datetime(2026, 12, 7, 1, 0)
    assert csdc.query_unified_account("resident_id", ID_NUMBER, "张三")["unified_account_no"] == unified_no


def test_planned_faults_apply_to_the_new_calls_too(csdc, opened):
    unified_no = opened()["unified_account_no"]
    csdc.faults.fail_next(1)
    with pytest.raises(TransientError, match="模拟"):
        csdc.query_unified_account("resident_id", ID_NUMBER, "张三")
    csdc.faults.reject_next("一码通状态异常")
    with pytest.raises(Rejected, match="一码通状态异常"):
        csdc.close_unified_account(unified_no, "close")


def test_the_app_builds_the_simulator_always_open_by_default(app):
    csdc = app.extensions["china_clearing"]
    assert isinstance(csdc, SimulatedChinaClearing) and csdc.service_hours is None
