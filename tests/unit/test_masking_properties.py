"""Property tests for display masking: what a mask keeps, what it may show, and that masking twice changes nothing."""

import re

from hypothesis import example, given
from hypothesis import strategies as st

from core import masking
from core.masking import ADDRESS_MASK, MASK_CHAR

DIGITS = "0123456789"
FULL_WIDTH_DIGITS = "０１２３４５６７８９"
# What people type around a number for readability, and what _compact drops.
SEPARATORS = st.sampled_from([" ", "  ", "\t", "-", "\u3000"])


def compact(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def visible(masked: str) -> list[tuple[int, str]]:
    """The characters a mask leaves readable, with their positions."""
    return [(i, ch) for i, ch in enumerate(masked) if ch != MASK_CHAR]


def with_separators(draw_source: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A value with separators put at random places, as a clerk might type it."""
    @st.composite
    def build(draw):
        text = draw(draw_source)
        pieces, rest = [], text
        while rest:
            cut = draw(st.integers(1, len(rest)))
            pieces.append(rest[:cut])
            rest = rest[cut:]
            if rest:
                pieces.append(draw(SEPARATORS))
        return "".join(pieces)

    return build()


@st.composite
def resident_ids(draw):
    """18-character resident ID (and the 18-character HK/Macau/Taiwan and foreign permanent residence numbers)."""
    region = draw(st.sampled_from(["110101", "440305", "810000", "820000", "830000", "911840"]))
    birth = draw(st.dates()).strftime("%Y%m%d")
    seq = draw(st.text(DIGITS, min_size=3, max_size=3))
    check = draw(st.sampled_from(DIGITS + "Xx"))
    return region + birth[-8:].rjust(8, "0") + seq + check


old_resident_ids = st.text(DIGITS, min_size=15, max_size=15)
# Passports (E12345678, G…, P…), 港澳居民来往内地通行证 (H/M + 8 or 10 digits), 台湾居民来往大陆通行证 (8 digits),
# old foreign permanent residence cards (3 letters + 12 digits).
other_documents = st.one_of(
    st.from_regex(r"\A[EGPDSK][0-9A-Z]?[0-9]{7,8}\Z"),
    st.from_regex(r"\A[HM][0-9]{8}([0-9]{2})?\Z"),
    st.from_regex(r"\A[0-9]{8}\Z"),
    st.from_regex(r"\A[A-Z]{3}[0-9]{12}\Z"),
)
any_id = st.one_of(resident_ids(), old_resident_ids, other_documents, st.text(max_size=30))
mobiles = st.one_of(st.from_regex(r"\A1[3-9][0-9]{9}\Z"), st.from_regex(r"\A\+?861[3-9][0-9]{9}\Z"),
                    st.text(DIGITS + FULL_WIDTH_DIGITS, max_size=14), st.text(max_size=20))
cards = st.one_of(st.text(DIGITS, min_size=16, max_size=19), st.text(DIGITS, max_size=15), st.text(max_size=24))
# Names in Han characters (including the extension planes), with a middle dot, or in Latin letters.
han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.characters(min_codepoint=0x20000,
                                                                                max_codepoint=0x2A6DF)
names = st.one_of(st.text(han, max_size=6), st.builds(lambda a, b: f"{a}·{b}", st.text(han, min_size=1, max_size=4),
                                                       st.text(han, min_size=1, max_size=6)),
                  st.text(max_size=20))


# --- ID numbers -------------------------------------------------------------------------------------

@given(with_separators(any_id))
def test_masked_id_number_keeps_the_length_of_the_number_without_separators(value):
    assert len(masking.mask_id_number(value)) == len(compact(value))


@given(with_separators(any_id))
@example("12")
@example("123")
def test_masked_id_number_shows_at_most_its_first_and_last_character(value):
    masked, number = masking.mask_id_number(value), compact(value)
    shown = visible(masked)
    assert len(shown) <= 2
    assert all(i in (0, len(number) - 1) and number[i] == ch for i, ch in shown)
    # A one- or two-character value would be shown whole by first + last.
    if len(number) <= 2:
        assert shown == []


@given(resident_ids())
def test_masked_resident_id_never_shows_the_birth_date(value):
    masked = masking.mask_id_number(value)
    assert len(masked) == 18
    assert masked[6:14] == MASK_CHAR * 8
    assert masked == value[0] + MASK_CHAR * 16 + value[-1]


@given(old_resident_ids)
def test_masked_fifteen_digit_id_never_shows_the_birth_date(value):
    # The 15-digit ID of before 1999 has the birth date (yymmdd) in positions 7-12.
    masked = masking.mask_id_number(value)
    assert masked[6:12] == MASK_CHAR * 6
    assert masked == value[0] + MASK_CHAR * 13 + value[-1]


@given(other_documents)
def test_masked_passport_or_permit_shows_only_first_and_last_character(value):
    masked = masking.mask_id_number(value)
    assert masked == value[0] + MASK_CHAR * (len(value) - 2) + value[-1]


@given(with_separators(any_id))
def test_masking_an_id_number_twice_changes_nothing(value):
    once = masking.mask_id_number(value)
    assert masking.mask_id_number(once) == once


# --- Mobiles ----------------------------------------------------------------------------------------

@given(with_separators(mobiles))
def test_masked_mobile_keeps_the_length_of_the_number_without_separators(value):
    assert len(masking.mask_mobile(value)) == len(compact(value))


@given(with_separators(mobiles))
def test_masked_mobile_shows_at_most_the_first_three_and_last_four_digits(value):
    masked, number = masking.mask_mobile(value), compact(value)
    shown = visible(masked)
    if len(number) >= 11:
        allowed = set(range(3)) | set(range(len(number) - 4, len(number)))
    else:
        # Not a mobile: a landline or a fragment shows at most its last two and never half of itself.
        allowed = set(range(len(number) - 2, len(number))) if len(number) > 2 else set()
        assert len(shown) <= len(number) // 2 or len(number) < 4
    assert {i for i, _ in shown} <= allowed
    assert all(number[i] == ch for i, ch in shown)


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_masked_eleven_digit_mobile_hides_the_middle_four(value):
    assert masking.mask_mobile(value) == value[:3] + "****" + value[-4:]


@given(with_separators(mobiles))
def test_masking_a_mobile_twice_changes_nothing(value):
    once = masking.mask_mobile(value)
    assert masking.mask_mobile(once) == once


# --- Bank cards -------------------------------------------------------------------------------------

@given(with_separators(cards))
def test_masked_bank_card_keeps_the_length_of_the_number_without_separators(value):
    assert len(masking.mask_bank_card(value)) == len(compact(value))


@given(with_separators(cards))
@example("62220212345")
@example("12345")
def test_masked_bank_card_shows_at_most_first_six_and_last_four_and_never_half(value):
    masked, number = masking.mask_bank_card(value), compact(value)
    shown = visible(masked)
    allowed = set(range(6)) | set(range(len(number) - 4, len(number))) if len(number) >= 16 else \
        set(range(len(number) - 4, len(number)))
    assert {i for i, _ in shown} <= allowed
    assert all(number[i] == ch for i, ch in shown)
    # The account digits in the middle stay hidden: never more than half a number is readable.
    assert len(shown) <= len(number) // 2 or len(number) >= 16


@given(st.text(DIGITS, min_size=16, max_size=19))
def test_masked_card_number_shows_first_six_and_last_four(value):
    assert masking.mask_bank_card(value) == value[:6] + MASK_CHAR * (len(value) - 10) + value[-4:]


@given(with_separators(cards))
def test_masking_a_bank_card_twice_changes_nothing(value):
    once = masking.mask_bank_card(value)
    assert masking.mask_bank_card(once) == once


# --- Names ------------------------------------------------------------------------------------------

@given(names)
def test_masked_name_keeps_its_length_in_characters(value):
    assert len(masking.mask_name(value)) == len(value.strip())


@given(names)
@example("𠀀明")
@example("阿依古丽·买买提")
def test_masked_name_shows_only_its_first_character(value):
    name, masked = value.strip(), masking.mask_name(value)
    if len(name) <= 1:
        assert set(masked) <= {MASK_CHAR}
    else:
        assert masked == name[0] + MASK_CHAR * (len(name) - 1)


@given(names)
def test_masking_a_name_twice_changes_nothing(value):
    once = masking.mask_name(value)
    assert masking.mask_name(once) == once


# --- Addresses --------------------------------------------------------------------------------------

street = st.text(alphabet="建国路中关村大街文三玉山镇0123456789号栋室", min_size=1, max_size=12)
divisions = st.sampled_from(["北京市朝阳区", "上海市浦东新区", "广东省深圳市南山区", "浙江省杭州市西湖区",
                             "新疆维吾尔自治区乌鲁木齐市天山区", "湖北省恩施土家族苗族自治州恩施市", "湖南省永州市道县"])
addresses = st.one_of(st.builds(str.__add__, divisions, street), st.text(max_size=30).filter(lambda t: "*" not in t))


@given(divisions, street)
def test_masked_address_keeps_province_city_and_district_only(division, rest):
    assert masking.mask_address(division + rest) == division + ADDRESS_MASK


@given(addresses)
@example("Room 101, 1 Main Street")
@example("ABCDEFGHIJ")
def test_masked_address_shows_a_prefix_of_divisions_or_at_most_six_characters(value):
    text, masked = value.strip(), masking.mask_address(value)
    if not masked.endswith(ADDRESS_MASK) or masked == text:
        # Nothing below the county to hide (湖北省仙桃市) or nothing at all.
        assert masked == text
        return
    kept = masked[: -len(ADDRESS_MASK)]
    assert text.startswith(kept)
    is_division = re.fullmatch(r".*(?:省|自治区|市|州|盟|地区|区|县|旗)", kept) is not None
    assert is_division or len(kept) <= min(6, len(text) // 2)


@given(addresses)
@example("Room 101, 1 Main Street")
@example("ABCDEFGHIJ")
def test_masking_an_address_twice_changes_nothing(value):
    once = masking.mask_address(value)
    assert masking.mask_address(once) == once


# --- Every mask -------------------------------------------------------------------------------------

MASKS = [masking.mask_id_number, masking.mask_mobile, masking.mask_bank_card, masking.mask_name,
         masking.mask_address]


@given(st.sampled_from(MASKS), st.one_of(st.none(), st.just(""), st.text(" \t\u3000", max_size=4)))
def test_empty_or_blank_values_mask_to_an_empty_string(mask, value):
    assert mask(value) == ""


@given(st.sampled_from(MASKS), st.text(max_size=40))
def test_no_mask_fails_on_any_text(mask, value):
    assert isinstance(mask(value), str)
