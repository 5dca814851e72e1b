"""Decoding the SAM text block for resident cards, "J" permits and "I" permanent residence cards."""

import pytest

from blueprints.opening import rules
from core.reference import IdType
from reader_agent.decode import (
    ETHNICITY_CODES,
    KEYS,
    SEX_CODES,
    MalformedBlock,
    decode_text_block,
)
from tests.reader_agent.fixtures import (
    RESIDENT,
    foreign_block,
    hmt_block,
    resident_block,
    ucs2,
    with_bytes,
)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            resident_block(),
            {
                "card_type": "resident_id", "name": "王小明", "name_en": None, "sex": "M",
                "ethnicity": "汉族", "birth_date": "1990-03-07", "address": "北京市东城区景山前街4号",
                "id_number": RESIDENT["id_number"], "authority": "北京市公安局东城分局",
                "valid_from": "2020-01-01", "valid_to": "2040-01-01", "nationality": None,
                "pass_number": None, "issue_count": None,
            },
        ),
        (
            hmt_block(),
            {
                "card_type": "hmt_residence_permit", "name": "陈大文", "name_en": None, "sex": "F",
                "ethnicity": None, "birth_date": "1985-11-20", "address": "广东省深圳市福田区深南大道1号",
                "id_number": "810000198511202462", "authority": "深圳市公安局",
                "valid_from": "2022-01-01", "valid_to": "2027-01-01", "nationality": None,
                "pass_number": "H12345678", "issue_count": 1,
            },
        ),
        (
            foreign_block(),
            {
                "card_type": "foreign_permanent_residence", "name": "史密斯",
                "name_en": "SMITH, JOHN ANDREW", "sex": "M", "ethnicity": None,
                "birth_date": "1980-03-07", "address": None, "id_number": "USA110080030712",
                "authority": "1500", "valid_from": "2023-05-01", "valid_to": "2033-04-30",
                "nationality": "USA", "pass_number": None, "issue_count": None,
            },
        ),
    ],
    ids=["resident", "hmt-J", "foreign-I"],
)
def test_decodes_every_field_of_each_card_type(block, expected):
    fields = decode_text_block(block)

    assert fields == expected
    assert tuple(fields) == KEYS


@pytest.mark.parametrize("make_block", [resident_block, hmt_block, foreign_block])
def test_long_term_validity_is_kept_as_written(make_block):
    fields = decode_text_block(make_block(valid_to="长期"))

    assert fields["valid_to"] == "长期"


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        # 15 characters fill the name field with no padding at all.
        ({"name": "欧阳" * 7 + "娜"}, "name", "欧阳" * 7 + "娜"),
        # Inner spaces belong to the value; only the padding goes.
        ({"address": "北京市 东城区"}, "address", "北京市 东城区"),
        ({"address": ""}, "address", None),
        ({"authority": ""}, "authority", None),
    ],
)
def test_space_padding_is_stripped_but_content_kept(overrides, key, expected):
    assert decode_text_block(resident_block(**overrides))[key] == expected


def test_nul_padding_from_some_sam_firmware_is_stripped_too():
    block = with_bytes(resident_block(), 0, ucs2("王小明", 30, pad="\x00"))

    assert decode_text_block(block)["name"] == "王小明"


def test_foreigner_without_chinese_name_decodes_with_name_null():
    fields = decode_text_block(foreign_block(name=""))

    assert fields["name"] is None
    assert fields["name_en"] == "SMITH, JOHN ANDREW"


@pytest.mark.parametrize("length", [0, 1, 255, 257, 1280])
def test_block_of_wrong_length_is_malformed(length):
    block = (resident_block() * 6)[:length]

    with pytest.raises(MalformedBlock, match=f"must be 256 bytes, got {length}"):
        decode_text_block(block)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (resident_block(birth="19900230"), "birth_date is an impossible date"),
        (resident_block(valid_from="20201301"), "valid_from is an impossible date"),
        (resident_block(valid_to="2040010"), "valid_to is not a YYYYMMDD date"),
        (resident_block(valid_to="永久"), "valid_to is not a YYYYMMDD date"),
        (foreign_block(birth="1980-3-7"), "birth_date is not a YYYYMMDD date"),
        (resident_block(birth="１９９００３０７"), "birth_date is not a YYYYMMDD date"),
        (resident_block(sex="0"), "unknown sex code '0'"),
        (resident_block(ethnicity="57"), "unknown ethnicity code '57'"),
        (resident_block(name=""), "name is blank"),
        (resident_block(id_number=""), "id_number is blank"),
        (foreign_block(name_en=""), "name_en is blank"),
        (hmt_block(issue_count="一"), "issue_count is not a number"),
        (hmt_block(card_type="X"), "unknown card type 'X'"),
        (foreign_block(card_type="Y"), "unknown card type 'Y'"),
        # A lone UTF-16 surrogate is not UCS-2.
        (with_bytes(resident_block(), 2, b"\x00\xd8"), "name is not valid UCS-2"),
        (with_bytes(resident_block(), 2, b"\x00\x00"), "name contains NUL characters"),
    ],
)
def test_malformed_content_is_refused_with_a_reason(block, message):
    with pytest.raises(MalformedBlock, match=message):
        decode_text_block(block)


def test_text_that_is_not_bytes_is_malformed():
    with pytest.raises(MalformedBlock):
        decode_text_block(resident_block().decode("latin-1"))


@pytest.mark.parametrize(
    ("code", "name"),
    [("01", "汉族"), ("02", "蒙古族"), ("08", "壮族"), ("56", "基诺族"), ("97", "其他"), ("98", "外国血统中国籍人士")],
)
def test_ethnicity_codes_decode_to_full_names(code, name):
    assert decode_text_block(resident_block(ethnicity=code))["ethnicity"] == name


def test_ethnicity_codes_01_to_56_are_the_servers_list_in_order():
    numbered = [ETHNICITY_CODES[f"{n:02d}"] for n in range(1, 57)]

    assert tuple(numbered) == rules.ETHNICITIES
    assert set(ETHNICITY_CODES) == {f"{n:02d}" for n in range(1, 57)} | {"97", "98"}


def test_sex_and_card_type_values_are_the_servers_field_values():
    card_types = {decode_text_block(b())["card_type"] for b in (resident_block, hmt_block, foreign_block)}

    assert set(SEX_CODES.values()) == set(rules.SEX_LABELS)
    assert card_types == {
        IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT, IdType.FOREIGN_PERMANENT_RESIDENCE,
    }
    assert rules.LONG_TERM == "长期"
