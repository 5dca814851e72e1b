"""Unit tests for identity-document, mobile and postcode rules."""

from datetime import date

import pytest
from stdnum.iso7064 import mod_11_2

from blueprints.opening import rules
from blueprints.opening.rules import FieldError, IdDocument
from core.reference import ID_TYPE_LABELS, IdType

TODAY = date(2025, 6, 15)


def make_id(prefix6: str, birth: str, seq3: str) -> str:
    body = f"{prefix6}{birth}{seq3}"
    return body + mod_11_2.calc_check_digit(body)


def with_wrong_check_digit(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


VALID_NUMBERS = {
    IdType.RESIDENT_ID: make_id("110101", "19900307", "123"),
    IdType.HMT_RESIDENCE_PERMIT: make_id("810000", "19900307", "123"),
    IdType.FOREIGN_PERMANENT_RESIDENCE: make_id("911840", "19900307", "123"),
    IdType.PASSPORT: "E12345678",
}


def make_doc(id_type=IdType.RESIDENT_ID, **overrides) -> IdDocument:
    fields = dict(
        id_type=id_type,
        id_number=VALID_NUMBERS[id_type],
        name="张三",
        sex="M",
        birth_date=date(1990, 3, 7),
        valid_from=date(2020, 1, 1),
        valid_to=date(2040, 1, 1),
        ethnicity="汉族" if id_type is IdType.RESIDENT_ID else None,
    )
    fields.update(overrides)
    return IdDocument(**fields)


def fields_of(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


# An ID number whose check digit is X, to prove X is accepted and normalised.
X_CHECK_ID = next(
    number
    for seq in range(1000)
    if (number := make_id("440305", "19851120", f"{seq:03d}")).endswith("X")
)


# --- constants -------------------------------------------------------------


def test_there_are_56_distinct_ethnicities_with_han_first():
    assert len(rules.ETHNICITIES) == 56
    assert len(set(rules.ETHNICITIES)) == 56
    assert rules.ETHNICITIES[0] == "汉族"
    assert all(name.endswith("族") for name in rules.ETHNICITIES)


def test_every_id_type_has_a_chinese_label():
    assert set(ID_TYPE_LABELS) == set(IdType)
    assert ID_TYPE_LABELS[IdType.RESIDENT_ID] == "居民身份证"


# --- normalisation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("44030519851120001x", "44030519851120001X"),
        (" 110101 19900307 1234 ", "110101199003071234"),
        ("１１０１０１１９９００３０７１２３４", "110101199003071234"),
        ("11010119900307123ｘ", "11010119900307123X"),
        ("110101\u300019900307\u00a01234", "110101199003071234"),
        ("e1234567", "E1234567"),
        ("", ""),
    ],
)
def test_id_number_is_normalised_to_half_width_upper_case_without_spaces(raw, expected):
    assert rules.normalize_id_number(IdType.RESIDENT_ID, raw) == expected


def test_normalisation_does_not_turn_non_ascii_letters_into_ascii():
    assert rules.normalize_id_number(IdType.PASSPORT, "ıe123456") == "ıE123456"


# --- resident ID numbers ---------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        make_id("110101", "19900307", "123"),
        make_id("330106", "20000229", "002"),
        X_CHECK_ID,
        X_CHECK_ID.lower(),
        X_CHECK_ID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}),
        # Region codes that only came into use after the holder was born
        # (Hainan became a province in 1988) are genuine numbers.
        make_id("460100", "19700101", "001"),
        make_id("110115", "19850101", "002"),
        # Codes abolished later (崇文区 until 2010) stay valid for their holders.
        make_id("110103", "19800101", "001"),
    ],
)
def test_valid_resident_id_is_accepted(number):
    assert rules.check_id_number(IdType.RESIDENT_ID, number) == []


@pytest.mark.parametrize(
    ("number", "expected_message"),
    [
        (with_wrong_check_digit(make_id("110101", "19900307", "123")), "身份证号码校验位错误，请核对最后一位"),
        (make_id("000000", "19900307", "123"), "身份证号码前6位地区码000000不存在，请核对"),
        (make_id("560101", "19900307", "123"), "身份证号码前6位地区码560101不存在，请核对"),
        (make_id("119999", "19900307", "123"), "身份证号码前6位地区码119999不存在，请核对"),
        (make_id("110101", "19900230", "123"), "身份证号码第7至14位的出生日期19900230无效，请核对"),
        (make_id("110101", "19901301", "123"), "身份证号码第7至14位的出生日期19901301无效，请核对"),
        (make_id("110101", "18991231", "123"), "身份证号码第7至14位的出生日期18991231无效，请核对"),
        ("110101900307123", "不支持15位一代身份证号码，请使用18位二代居民身份证号码"),
        ("11010119900307123", "居民身份证号码应为18位，当前为17位"),
        ("1101011990030712345", "居民身份证号码应为18位，当前为19位"),
        ("11010119900307A234", "居民身份证号码格式错误：前17位必须是数字，最后一位为数字或X"),
        ("11010119900307123Y", "居民身份证号码格式错误：前17位必须是数字，最后一位为数字或X"),
        ("", "请填写证件号码"),
        ("   ", "请填写证件号码"),
    ],
)
def test_invalid_resident_id_is_refused_with_specific_message(number, expected_message):
    assert rules.check_id_number(IdType.RESIDENT_ID, number) == [
        FieldError("id_number", expected_message)
    ]


@pytest.mark.parametrize(
    ("number", "hint"),
    [
        (make_id("810000", "19900307", "123"), "港澳台居民居住证"),
        (make_id("830000", "19900307", "123"), "港澳台居民居住证"),
        (make_id("915840", "19900307", "123"), "外国人永久居留身份证"),
    ],
)
def test_other_document_number_under_resident_id_type_points_to_right_type(number, hint):
    [error] = rules.check_id_number(IdType.RESIDENT_ID, number)
    assert error.field == "id_number"
    assert hint in error.message


# --- Hong Kong / Macau / Taiwan residence permits -------------------------


@pytest.mark.parametrize("prefix", ["810000", "820000", "830000"])
def test_residence_permit_with_hmt_prefix_is_accepted(prefix):
    number = make_id(prefix, "19900307", "124")
    assert rules.check_id_number(IdType.HMT_RESIDENCE_PERMIT, number) == []


@pytest.mark.parametrize(
    ("number", "expected_fragment"),
    [
        (make_id("840000", "19900307", "123"), "前6位应为810000（香港）、820000（澳门）或830000（台湾），当前为840000"),
        (make_id("110101", "19900307", "123"), "当前为110101"),
        (with_wrong_check_digit(make_id("810000", "19900307", "123")), "校验位错误"),
        (make_id("820000", "19900230", "123"), "出生日期19900230无效"),
        ("81000019900307123", "应为18位，当前为17位"),
        ("8100001990030712A4", "格式错误"),
    ],
)
def test_invalid_residence_permit_is_refused(number, expected_fragment):
    [error] = rules.check_id_number(IdType.HMT_RESIDENCE_PERMIT, number)
    assert error.field == "id_number"
    assert expected_fragment in error.message


# --- foreign permanent residence ID ---------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "USA310088001234",
        "usa310088001234",
        make_id("911840", "19800512", "015"),
    ],
)
def test_valid_foreign_permanent_residence_number_is_accepted(number):
    assert rules.check_id_number(IdType.FOREIGN_PERMANENT_RESIDENCE, number) == []


@pytest.mark.parametrize(
    ("number", "expected_fragment"),
    [
        ("US1310088001234", "3位大写英文字母加12位数字"),
        ("USA31008800123A", "3位大写英文字母加12位数字"),
        (make_id("811840", "19800512", "015"), "应以9开头"),
        (with_wrong_check_digit(make_id("911840", "19800512", "015")), "校验位错误"),
        (make_id("911840", "19800230", "015"), "出生日期19800230无效"),
        ("USA3100880012", "应为15位（2017版）或18位（2023版），当前为13位"),
    ],
)
def test_invalid_foreign_permanent_residence_number_is_refused(number, expected_fragment):
    [error] = rules.check_id_number(IdType.FOREIGN_PERMANENT_RESIDENCE, number)
    assert error.field == "id_number"
    assert expected_fragment in error.message


# --- passports --------------------------------------------------------------


@pytest.mark.parametrize("number", ["E1234", "E12345678", "g 1234 5678", "A" * 17])
def test_valid_passport_number_is_accepted(number):
    assert rules.check_id_number(IdType.PASSPORT, number) == []


@pytest.mark.parametrize(
    ("number", "expected_message"),
    [
        ("E123", "护照号码应为5至17位，当前为4位"),
        ("A" * 18, "护照号码应为5至17位，当前为18位"),
        ("E1234/567", "护照号码只能包含英文字母和数字"),
        ("E1234ñ567", "护照号码只能包含英文字母和数字"),
    ],
)
def test_invalid_passport_number_is_refused(number, expected_message):
    assert rules.check_id_number(IdType.PASSPORT, number) == [
        FieldError("id_number", expected_message)
    ]


def test_id_type_may_be_given_as_its_string_value():
    number = make_id("110101", "19900307", "123")
    assert rules.check_id_number("resident_id", number) == []


def test_unknown_id_type_raises():
    with pytest.raises(ValueError):
        rules.check_id_number("driving_licence", "E12345678")


# --- data carried by the number -------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "number", "birth", "sex"),
    [
        (IdType.RESIDENT_ID, make_id("110101", "19900307", "123"), date(1990, 3, 7), "M"),
        (IdType.RESIDENT_ID, make_id("110101", "19900307", "124"), date(1990, 3, 7), "F"),
        (IdType.RESIDENT_ID, make_id("110101", "20000229", "120").lower(), date(2000, 2, 29), "F"),
        (IdType.HMT_RESIDENCE_PERMIT, make_id("820000", "19751231", "009"), date(1975, 12, 31), "M"),
        (IdType.FOREIGN_PERMANENT_RESIDENCE, make_id("911840", "19800512", "016"), date(1980, 5, 12), "F"),
        (IdType.FOREIGN_PERMANENT_RESIDENCE, "USA310088001234", None, None),
        (IdType.PASSPORT, "E12345678", None, None),
        # An invalid number is no evidence of birth date or sex.
        (IdType.RESIDENT_ID, with_wrong_check_digit(make_id("110101", "19900307", "123")), None, None),
        (IdType.RESIDENT_ID, "110101900307123", None, None),
    ],
)
def test_birth_date_and_sex_are_read_from_numbers_that_carry_them(id_type, number, birth, sex):
    assert rules.birth_date_from_id(id_type, number) == birth
    assert rules.sex_from_id(id_type, number) == sex


# --- age ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(2007, 6, 15), date(2025, 6, 15), 18),
        (date(2007, 6, 16), date(2025, 6, 15), 17),
        (date(2007, 6, 14), date(2025, 6, 15), 18),
        (date(1990, 12, 31), date(2025, 1, 1), 34),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2008, 2, 29), date(2028, 2, 28), 19),
        (date(2025, 6, 15), date(2025, 6, 15), 0),
    ],
)
def test_age_counts_full_years(birth, today, age):
    assert rules.age_on(birth, today) == age


# --- validity end date --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("长期", None),
        (" 长期 ", None),
        ("2030-01-31", date(2030, 1, 31)),
        ("20300131", date(2030, 1, 31)),
        ("2030.01.31", date(2030, 1, 31)),
        ("２０３０.０１.３１", date(2030, 1, 31)),
        ("2028-02-29", date(2028, 2, 29)),
    ],
)
def test_valid_to_is_parsed_from_accepted_formats(raw, expected):
    assert rules.parse_valid_to(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected_fragment"),
    [
        ("", "请填写证件有效期截止日期"),
        ("2030/01/31", "格式无法识别"),
        ("2030-1-31", "格式无法识别"),
        ("2030.01-31", "格式无法识别"),
        ("长期有效期", "格式无法识别"),
        ("2030-02-30", "不是有效日期"),
        ("20301301", "不是有效日期"),
    ],
)
def test_unparseable_valid_to_raises_with_chinese_message(raw, expected_fragment):
    with pytest.raises(ValueError, match=expected_fragment):
        rules.parse_valid_to(raw)


# --- whole document -------------------------------------------------------------


def test_complete_valid_document_has_no_errors():
    assert rules.check_id_document(make_doc(), TODAY) == []


def test_long_term_document_is_accepted():
    doc = make_doc(valid_from=date(2015, 1, 1), valid_to=None)
    assert rules.check_id_document(doc, TODAY) == []


@pytest.mark.parametrize(
    ("valid_to", "errors"),
    [
        (date(2025, 3, 1), [FieldError("valid_to", "证件已于2025-03-01过期，不能开户")]),
        (date(2025, 6, 14), [FieldError("valid_to", "证件已于2025-06-14过期，不能开户")]),
        (date(2025, 6, 15), []),
        (date(2025, 6, 16), []),
    ],
)
def test_expired_document_is_refused(valid_to, errors):
    doc = make_doc(valid_from=date(2015, 6, 15), valid_to=valid_to)
    assert rules.check_id_document(doc, TODAY) == errors


@pytest.mark.parametrize("valid_to", [date(2019, 12, 31), date(2020, 1, 1)])
def test_valid_to_not_after_valid_from_is_refused(valid_to):
    doc = make_doc(valid_from=date(2020, 1, 1), valid_to=valid_to)
    errors = rules.check_id_document(doc, TODAY)
    assert fields_of(errors) == ["valid_to"]
    assert "必须晚于起始日期2020-01-01" in errors[0].message


def test_valid_from_in_the_future_is_refused():
    doc = make_doc(valid_from=date(2025, 6, 16))
    errors = rules.check_id_document(doc, TODAY)
    assert fields_of(errors) == ["valid_from"]
    assert "2025-06-16晚于今天" in errors[0].message


@pytest.mark.parametrize(
    ("birth", "errors"),
    [
        ("20070615", []),
        ("20070616", [FieldError("birth_date", "客户未满18周岁（当前17周岁），不能开立证券账户")]),
        ("20120101", [FieldError("birth_date", "客户未满18周岁（当前13周岁），不能开立证券账户")]),
    ],
)
def test_customer_must_be_at_least_18_on_the_day(birth, errors):
    birth_date = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    doc = make_doc(
        id_number=make_id("110101", birth, "123"),
        birth_date=birth_date,
        valid_from=date(2024, 1, 1),
    )
    assert rules.check_id_document(doc, TODAY) == errors


@pytest.mark.parametrize(
    ("today", "errors"),
    [
        (date(2026, 2, 28), ["birth_date"]),
        (date(2026, 3, 1), []),
    ],
)
def test_customer_born_on_29_february_comes_of_age_on_1_march(today, errors):
    doc = make_doc(
        id_number=make_id("110101", "20080229", "124"),
        sex="F",
        birth_date=date(2008, 2, 29),
        valid_from=date(2024, 1, 1),
    )
    assert fields_of(rules.check_id_document(doc, today)) == errors


def test_birth_date_in_the_future_is_refused():
    doc = make_doc(IdType.PASSPORT, birth_date=date(2025, 6, 16))
    assert rules.check_id_document(doc, TODAY) == [
        FieldError("birth_date", "出生日期不能晚于今天")
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"birth_date": date(1990, 3, 8)},
            [FieldError("birth_date", "出生日期与证件号码不一致：证件号码显示出生日期为1990-03-07")],
        ),
        (
            {"sex": "F"},
            [FieldError("sex", "性别与证件号码不一致：证件号码显示为男性")],
        ),
        (
            {"id_number": make_id("110101", "19900307", "124")},
            [FieldError("sex", "性别与证件号码不一致：证件号码显示为女性")],
        ),
    ],
)
def test_entered_birth_date_and_sex_must_match_the_resident_id(overrides, expected):
    assert rules.check_id_document(make_doc(**overrides), TODAY) == expected


@pytest.mark.parametrize(
    "id_type", [IdType.HMT_RESIDENCE_PERMIT, IdType.FOREIGN_PERMANENT_RESIDENCE]
)
def test_entered_birth_date_and_sex_must_match_other_18_digit_numbers(id_type):
    doc = make_doc(id_type, birth_date=date(1985, 1, 1), sex="F")
    assert rules.check_id_document(doc, TODAY) == [
        FieldError("birth_date", "出生日期与证件号码不一致：证件号码显示出生日期为1990-03-07"),
        FieldError("sex", "性别与证件号码不一致：证件号码显示为男性"),
    ]


def test_invalid_number_is_reported_once_without_mismatch_noise():
    doc = make_doc(id_number=with_wrong_check_digit(make_id("110101", "19800101", "124")))
    assert fields_of(rules.check_id_document(doc, TODAY)) == ["id_number"]


def test_passport_details_are_not_compared_with_the_number():
    doc = make_doc(IdType.PASSPORT, name="John Smith", sex="F", birth_date=date(1970, 1, 1))
    assert rules.check_id_document(doc, TODAY) == []


@pytest.mark.parametrize("sex", ["", "男", "m", "X", None])
def test_sex_other_than_m_or_f_is_refused(sex):
    doc = make_doc(sex=sex)
    assert rules.check_id_document(doc, TODAY) == [FieldError("sex", "请选择性别（男或女）")]


@pytest.mark.parametrize(
    ("id_type", "name"),
    [
        (IdType.RESIDENT_ID, "张三"),
        (IdType.RESIDENT_ID, "欧阳娜娜"),
        (IdType.RESIDENT_ID, "阿依古丽·买买提"),
        (IdType.RESIDENT_ID, "刘䶮"),
        (IdType.RESIDENT_ID, "王𠀀"),
        (IdType.RESIDENT_ID, "李〇"),
        (IdType.RESIDENT_ID, " 张三 "),
        (IdType.RESIDENT_ID, "张" * 60),
        (IdType.PASSPORT, "John O'Brien-Smith"),
        (IdType.HMT_RESIDENCE_PERMIT, "陳大文"),
    ],
)
def test_acceptable_name_passes(id_type, name):
    assert rules.check_id_document(make_doc(id_type, name=name), TODAY) == []


@pytest.mark.parametrize(
    ("id_type", "name", "expected_fragment"),
    [
        (IdType.RESIDENT_ID, "", "请填写姓名"),
        (IdType.RESIDENT_ID, "   ", "请填写姓名"),
        (IdType.RESIDENT_ID, None, "请填写姓名"),
        (IdType.RESIDENT_ID, "张", "当前为1个"),
        (IdType.RESIDENT_ID, "张" * 61, "当前为61个"),
        (IdType.PASSPORT, "J", "当前为1个"),
        (IdType.RESIDENT_ID, "Zhang San", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "张 三", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "张三1", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "·阿依古丽", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "阿依古丽·", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "阿依古丽··买买提", "只能包含汉字和间隔号"),
        (IdType.RESIDENT_ID, "阿依古丽•买买提", "只能包含汉字和间隔号"),
    ],
)
def test_unacceptable_name_is_refused(id_type, name, expected_fragment):
    errors = rules.check_id_document(make_doc(id_type, name=name), TODAY)
    assert fields_of(errors) == ["name"]
    assert expected_fragment in errors[0].message


@pytest.mark.parametrize(
    ("ethnicity", "expected_message"),
    [
        (None, "请选择民族"),
        ("", "请选择民族"),
        ("汉", "请填写民族全称“汉族”"),
        ("蒙古", "请填写民族全称“蒙古族”"),
        ("穿青人", "民族“穿青人”不在56个民族之列，请从列表中选择"),
        ("Han", "民族“Han”不在56个民族之列，请从列表中选择"),
    ],
)
def test_resident_id_requires_one_of_the_56_ethnicities(ethnicity, expected_message):
    doc = make_doc(ethnicity=ethnicity)
    assert rules.check_id_document(doc, TODAY) == [FieldError("ethnicity", expected_message)]


@pytest.mark.parametrize("ethnicity", list(rules.ETHNICITIES))
def test_every_listed_ethnicity_is_accepted(ethnicity):
    assert rules.check_id_document(make_doc(ethnicity=ethnicity), TODAY) == []


@pytest.mark.parametrize("ethnicity", [None, "穿青人"])
def test_ethnicity_is_not_checked_for_other_documents(ethnicity):
    doc = make_doc(IdType.HMT_RESIDENCE_PERMIT, ethnicity=ethnicity)
    assert rules.check_id_document(doc, TODAY) == []


def test_unknown_id_type_on_document_is_reported_on_id_type_field():
    doc = IdDocument(**{**make_doc().__dict__, "id_type": "driving_licence"})
    assert rules.check_id_document(doc, TODAY) == [
        FieldError("id_type", "证件类型无效，请重新选择")
    ]


def test_several_problems_are_reported_together():
    doc = make_doc(name="", sex="", valid_from=date(2010, 1, 1), valid_to=date(2020, 1, 1), ethnicity="")
    assert sorted(fields_of(rules.check_id_document(doc, TODAY))) == [
        "ethnicity", "name", "sex", "valid_to",
    ]


# --- mobile and postcode -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        " 13800138000 ",
        "138 0013 8000",
        "138-0013-8000",
        "+8613800138000",
        "+86 138 0013 8000",
        "008613800138000",
        "8613800138000",
        "86-138-0013-8000",
        "１３８００１３８０００",
    ],
)
def test_mainland_mobile_variants_are_normalised_to_11_digits(raw):
    assert rules.check_mobile(raw) == ("13800138000", None)


@pytest.mark.parametrize("raw", ["19912345678", "16612345678", "14712345678"])
def test_mobile_prefixes_13_to_19_are_accepted(raw):
    assert rules.check_mobile(raw) == (raw, None)


@pytest.mark.parametrize(
    ("raw", "expected_message"),
    [
        ("", "请填写手机号码"),
        (None, "请填写手机号码"),
        ("1380013800", "手机号码应为11位，当前为10位"),
        ("138001380001", "手机号码应为11位，当前为12位"),
        ("12800138000", "手机号码应以13至19开头，请核对"),
        ("23800138000", "手机号码应以13至19开头，请核对"),
        ("1380013800a", "手机号码只能包含数字、空格、短横线和+86前缀"),
        ("(138)00138000", "手机号码只能包含数字、空格、短横线和+86前缀"),
        ("+85291234567", "仅支持中国大陆手机号码（+86）"),
        ("0085291234567", "仅支持中国大陆手机号码（+86）"),
        ("+86 1380013800", "手机号码应为11位，当前为10位"),
        ("8613800138", "手机号码应为11位，当前为10位"),
    ],
)
def test_invalid_mobile_is_refused(raw, expected_message):
    assert rules.check_mobile(raw) == (None, FieldError("mobile", expected_message))


@pytest.mark.parametrize("raw", ["100000", "518057", " 200120 "])
def test_six_digit_postcode_is_accepted(raw):
    assert rules.check_postcode(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected_message"),
    [
        ("", "请填写邮政编码"),
        (None, "请填写邮政编码"),
        ("10000", "邮政编码应为6位数字，当前填写“10000”"),
        ("1000000", "邮政编码应为6位数字，当前填写“1000000”"),
        ("10000A", "邮政编码应为6位数字，当前填写“10000A”"),
        ("１００００１", "邮政编码应为6位数字，当前填写“１００００１”"),
        ("100 001", "邮政编码应为6位数字，当前填写“100 001”"),
    ],
)
def test_invalid_postcode_is_refused(raw, expected_message):
    assert rules.check_postcode(raw) == FieldError("postcode", expected_message)
