"""Search keys of names and the shape of queries."""
import pytest

from blueprints.search import keys


@pytest.mark.parametrize("name, kind, value", [
    ("曾伟", keys.PINYIN, "zengwei"), ("单田芳", keys.PINYIN, "shantianfang"), ("解放", keys.PINYIN, "xiefang"),
    ("区丽", keys.PINYIN, "ouli"), ("仇英", keys.PINYIN, "qiuying"), ("朴树", keys.PINYIN, "piaoshu"),
    ("查良镛", keys.PINYIN, "zhaliangyong"), ("覃雪", keys.INITIALS, "qx"), ("尉迟恭", keys.PINYIN, "yuchigong"),
    ("万俟卨", keys.PINYIN, "moqixie"), ("长孙无忌", keys.PINYIN, "zhangsunwuji"), ("澹台明", keys.PINYIN, "tantaiming"),
    ("缪斯", keys.PINYIN, "miaosi"), ("单长乐", keys.PINYIN, "shanchangle"), ("单长乐", keys.PINYIN, "shanchangyue"),
    ("张伟", keys.GIVEN, "伟"), ("欧阳修文", keys.GIVEN, "修文"), ("欧阳修文", keys.GIVEN, "文"),
    ("買買提•艾力", keys.NAME, "买买提·艾力"), ("买买提．艾力", keys.GIVEN, "艾力"), ("张𠀋", keys.NAME, "张𠀋"),
    ("张𠀋", keys.GIVEN, "𠀋"),
])
def test_name_keys(name, kind, value):
    assert (kind, value) in keys.name_keys(name)


def test_compound_surname_is_one_unit():
    assert (keys.GIVEN, "俟卨") not in keys.name_keys("万俟卨")
    assert ("pinyin", "wanqixie") not in keys.name_keys("万俟卨")


def test_readings_are_bounded():
    assert len(keys.readings("行行行行行行")) == keys.MAX_READINGS


@pytest.mark.parametrize("raw, shape", [
    ("zw", "pinyin"), ("Zhang Wei", "pinyin"), ("张伟", "name"), ("张", "name"), ("13800138000", "number"),
    ("11010519491231002x", "number"), ("110105491231002", "number"), ("C0101000001", "number"),
    ("1380013", "invalid"), ("x" * 61, "invalid"), ("E12345678", "number"),
])
def test_query_shapes(raw, shape):
    assert keys.parse_query(raw).shape == shape


def test_fifteen_and_eighteen_digit_forms_find_each_other():
    query = keys.parse_query("110105491231002")
    assert query.id_numbers == ("110105491231002", "11010519491231002X")
    assert keys.parse_query("11010519491231002X").id_numbers == ("11010519491231002X", "110105491231002")


def test_full_width_and_spaced_id_number():
    assert keys.parse_query("１１０１０５ １９４９１２３１ ００２ｘ").id_numbers[0] == "11010519491231002X"


def test_empty_query_is_nothing():
    assert keys.parse_query("  ") is None


def test_prefix_bound_covers_characters_outside_the_bmp():
    bound = keys.prefix_upper_bound("张")
    assert "张" <= "张𠀋伟" < bound and "张伟" < bound and not ("弡" < bound)
    assert keys.prefix_upper_bound("a\U0010ffff") == "b"
