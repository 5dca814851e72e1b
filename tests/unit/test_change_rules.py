"""Which fields a change touches, what may go in one key change and ID upgrades."""
from datetime import date

import pytest

from blueprints.changes.rules import (
    FIELD_LABELS, KEY_FIELDS, ORDINARY_FIELDS, VALIDITY_FIELDS, ChangeKind, FieldChange, check_key_change, diff,
    is_id_upgrade, kind_of,
)
from blueprints.opening.rules import eighteen_digit_form

PERSON = {
    "name": "张三", "id_type": "resident_id", "id_number": "110105198806121231",
    "id_valid_from": date(2016, 6, 1), "id_valid_to": date(2036, 6, 1),
    "mobile": "13800138000", "email": "", "address": "北京市朝阳区建国路1号", "postcode": "100020",
    "occupation": None,
}


def test_every_field_has_a_chinese_label():
    assert set(FIELD_LABELS) == set(KEY_FIELDS + VALIDITY_FIELDS + ORDINARY_FIELDS)


def test_diff_lists_changed_fields_in_the_order_asked_with_labels():
    after = {**PERSON, "postcode": "100021", "mobile": "13900139000"}
    assert diff(PERSON, after, ORDINARY_FIELDS) == [
        FieldChange("mobile", "手机号码", "13800138000", "13900139000"),
        FieldChange("postcode", "邮政编码", "100020", "100021"),
    ]


@pytest.mark.parametrize("before, after, changed", [
    (None, "", False),
    ("", None, False),
    (None, None, False),
    ("", "a@example.com", True),
    ("a@example.com", "", True),
    ("a@example.com", "a@example.com", False),
])
def test_diff_treats_none_and_empty_as_equal(before, after, changed):
    assert bool(diff({"email": before}, {"email": after}, ["email"])) is changed


def test_diff_of_a_field_missing_on_one_side_is_a_change_only_when_the_other_has_a_value():
    assert diff({}, {"email": ""}, ["email"]) == []
    assert diff({}, {"email": "a@example.com"}, ["email"]) == [FieldChange("email", "电子邮箱", None, "a@example.com")]


def test_diff_compares_dates():
    after = {**PERSON, "id_valid_to": date(2046, 6, 1)}
    assert [c.field for c in diff(PERSON, after, VALIDITY_FIELDS)] == ["id_valid_to"]


@pytest.mark.parametrize("changes, errors", [
    ({"name": "张叁"}, []),
    ({"id_number": "110105198806121223"}, []),
    ({"id_type": "passport", "id_number": "E12345678"}, []),
    ({"name": "张叁", "id_valid_to": date(2046, 6, 1)}, []),  # the new document's validity comes along
    ({}, ["未修改任何关键信息"]),
    ({"id_valid_to": date(2046, 6, 1)}, ["未修改任何关键信息"]),
    ({"name": "张叁", "id_number": "110105198806121223"}, ["姓名与证件号码不能在同一笔业务中变更，请分两笔办理"]),
    ({"name": "张叁", "mobile": "13900139000"}, ["关键信息变更中不能同时修改普通资料（手机号码），请另行办理普通资料变更"]),
    ({"name": "张叁", "id_number": "110105198806121223", "address": "上海市", "email": "z@example.com"}, [
        "姓名与证件号码不能在同一笔业务中变更，请分两笔办理",
        "关键信息变更中不能同时修改普通资料（电子邮箱、联系地址），请另行办理普通资料变更",
    ]),
    ({"mobile": "13900139000"}, ["未修改任何关键信息",
                                 "关键信息变更中不能同时修改普通资料（手机号码），请另行办理普通资料变更"]),
])
def test_check_key_change(changes, errors):
    assert check_key_change(PERSON, {**PERSON, **changes}) == errors


@pytest.mark.parametrize("old, new, upgrade", [
    ("110105880612123", "110105198806121231", True),
    ("110105491231002", "11010519491231002X", True),
    ("110105491231002", "11010519491231002x", True),  # typed in lower case
    ("110105880612123", "110105198806121223", False),  # another person's number
    ("110105880612123", "110105198806121230", False),  # wrong check digit
    ("110105880612123", "110105208806121231", False),  # the century is always 19
    ("110105198806121231", "110105198806121231", False),  # already 18 digits
    ("110105881312123", "110105198813121233", False),  # month 13: not a valid old number
    ("990105880612123", "990105198806121231", False),  # no such region
    ("11010588061212", "110105198806121231", False),  # 14 digits
    ("", "110105198806121231", False),
    (None, None, False),
])
def test_is_id_upgrade(old, new, upgrade):
    assert is_id_upgrade(old, new) is upgrade


@pytest.mark.parametrize("fifteen, eighteen", [
    ("110105880612123", "110105198806121231"),
    ("440301900101001", "440301199001010012"),
    ("11010549123100X", None),
    ("110105490230002", None),  # 30 February
])
def test_eighteen_digit_form(fifteen, eighteen):
    assert eighteen_digit_form(fifteen) == eighteen


@pytest.mark.parametrize("changes, kind", [
    ({}, None),
    ({"email": ""}, None),
    ({"mobile": "13900139000"}, ChangeKind.ORDINARY),
    ({"id_valid_to": date(2046, 6, 1)}, ChangeKind.RENEWAL),
    ({"id_valid_to": date(2046, 6, 1), "mobile": "13900139000"}, ChangeKind.RENEWAL),
    ({"name": "张叁"}, ChangeKind.KEY),
    ({"id_type": "passport", "id_number": "E12345678"}, ChangeKind.KEY),
])
def test_kind_of(changes, kind):
    assert kind_of(PERSON, {**PERSON, **changes}) == kind


def test_kind_of_an_old_fifteen_digit_number_becoming_its_eighteen_digit_form_is_an_upgrade():
    old = {**PERSON, "id_number": "110105880612123"}
    assert kind_of(old, PERSON) == ChangeKind.UPGRADE
    assert kind_of(old, {**PERSON, "name": "张叁"}) == ChangeKind.KEY

