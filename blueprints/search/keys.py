"""Search keys of a customer and the shape of a query: pure rules, no Flask, no database.

A customer is found by keys kept beside the record (name, given name, every pinyin reading and
its initials, keyed hashes of ID number and mobile); the stored name itself is never changed.
"""
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin

from blueprints.customers.names import name_key
from blueprints.opening.rules import eighteen_digit_form

# The key kinds a customer carries in customer_search_key, and what the dropdown says matched.
NAME, GIVEN, PINYIN, INITIALS, ID_NUMBER, MOBILE = "name", "given", "pinyin", "initials", "id", "mobile"
# Exact numbers looked up in their own tables, not in the key table.
CUSTOMER_NO, FUND_ACCOUNT, UNIFIED_ACCOUNT, SUB_ACCOUNT = "customer_no", "fund_account", "unified", "sub_account"

KEY_LABELS = {
    NAME: "姓名", GIVEN: "名字", PINYIN: "姓名全拼", INITIALS: "拼音首字母", ID_NUMBER: "证件号码",
    MOBILE: "手机号", CUSTOMER_NO: "客户号", FUND_ACCOUNT: "资金账号", UNIFIED_ACCOUNT: "一码通账号",
    SUB_ACCOUNT: "证券账户",
}

# Surnames whose reading differs from the word's everyday one (pypinyin has no surname mode).
# Compound surnames come first in matching: 万俟 is one surname, not 万 + 俟. The first reading
# is the surname reading; a second one is listed only where both are in real use.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    # compound surnames (复姓)
    "尉迟": ("yu chi",), "万俟": ("mo qi",), "长孙": ("zhang sun",), "澹台": ("tan tai",),
    "单于": ("chan yu",), "乐正": ("yue zheng",), "令狐": ("ling hu",), "欧阳": ("ou yang",),
    "上官": ("shang guan",), "司马": ("si ma",), "诸葛": ("zhu ge",), "东方": ("dong fang",),
    "独孤": ("du gu",), "南宫": ("nan gong",), "西门": ("xi men",), "公孙": ("gong sun",),
    "慕容": ("mu rong",), "宇文": ("yu wen",), "夏侯": ("xia hou",), "轩辕": ("xuan yuan",),
    "皇甫": ("huang fu",), "司徒": ("si tu",), "司空": ("si kong",), "钟离": ("zhong li",),
    "太史": ("tai shi",), "端木": ("duan mu",), "公冶": ("gong ye",), "宗政": ("zong zheng",),
    "濮阳": ("pu yang",), "淳于": ("chun yu",), "仲孙": ("zhong sun",), "申屠": ("shen tu",),
    "闻人": ("wen ren",), "赫连": ("he lian",), "呼延": ("hu yan",), "百里": ("bai li",),
    "拓跋": ("tuo ba",), "完颜": ("wan yan",), "纳兰": ("na lan",), "第五": ("di wu",),
    "公羊": ("gong yang",), "羊舌": ("yang she",), "微生": ("wei sheng",), "梁丘": ("liang qiu",),
    "左丘": ("zuo qiu",), "东郭": ("dong guo",), "南门": ("nan men",),
    # single surnames read otherwise than the character's common reading
    "曾": ("zeng",), "单": ("shan",), "区": ("ou",), "解": ("xie",), "仇": ("qiu",), "朴": ("piao",),
    "查": ("zha",), "翟": ("zhai", "di"), "覃": ("qin", "tan"), "乐": ("yue", "le"), "尉": ("wei", "yu"),
    "宓": ("mi", "fu"), "缪": ("miao",), "秘": ("bi",), "过": ("guo",), "召": ("shao",), "句": ("gou",),
    "员": ("yun",), "冼": ("xian",), "盖": ("ge",), "种": ("chong",), "折": ("she",), "黑": ("he", "hei"),
    "蕃": ("pi",), "隗": ("wei", "kui"), "郇": ("huan", "xun"), "繁": ("po",), "能": ("nai",),
    "柏": ("bai",), "薄": ("bo",), "沈": ("shen",), "任": ("ren",), "华": ("hua",), "纪": ("ji",),
    "燕": ("yan",), "殷": ("yin",), "石": ("shi",), "长": ("chang",), "朝": ("chao",), "重": ("chong",),
    "藏": ("zang",), "都": ("du",), "阚": ("kan",), "眭": ("sui",), "逄": ("pang",), "谌": ("chen",),
    "莘": ("shen",), "洗": ("xian",),
}
COMPOUND_SURNAMES = frozenset(s for s in SURNAME_READINGS if len(s) == 2) | frozenset(
    "公西 漆雕 乐正 壤驷 公良 拓拔 夹谷 宰父 谷梁 段干 巫马 子车 颛孙 亓官 司寇 仉督 鲜于 闾丘 东门 西门 北宫".split())

# The readings indexed per customer: enough for a name of several polyphonic characters,
# bounded so one unusual name cannot add hundreds of rows.
MAX_READINGS = 16
MAX_GIVEN_SUFFIXES = 4
MAX_KEY_LENGTH = 200
MAX_QUERY_LENGTH = 60
DOT = "\u00b7"


@lru_cache(maxsize=1)
def _converter():
    from opencc import OpenCC

    return OpenCC("t2s")


def fold_name(name: str) -> str:
    """The form names are matched in: name_key's NFKC and one middle dot, traditional folded to simplified."""
    return _converter().convert(name_key(name))


def split_surname(folded: str) -> tuple[str, str]:
    """Surname and given name of a folded Chinese name; a transliterated name (with a dot) has no surname."""
    if DOT in folded or len(folded) < 2 or not _is_han(folded[0]):
        return "", folded
    if folded[:2] in COMPOUND_SURNAMES and len(folded) > 2:
        return folded[:2], folded[2:]
    return folded[:1], folded[1:]


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK")


@lru_cache(maxsize=65536)
def _char_readings(ch: str) -> tuple[tuple[str, ...], ...]:
    """Every reading of one character, each as a tuple of syllables; a non-hanzi stands for itself."""
    if not _is_han(ch):
        return ((ch.lower(),),)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors=lambda chars: [[c] for c in chars])[0]
    return tuple((r.lower(),) for r in dict.fromkeys(found))


@lru_cache(maxsize=65536)
def _default_readings(text: str) -> tuple[str, ...]:
    # pypinyin's phrase dictionary picks the usual reading in context (长乐 → chang le).
    return tuple(s.lower() for s in lazy_pinyin(text, errors=lambda chars: list(chars)))


def _units(folded: str) -> list[tuple[tuple[str, ...], ...]]:
    """The name as units (the surname, then each character), each with its readings, the likeliest first."""
    surname, given = split_surname(folded)
    units: list[tuple[tuple[str, ...], ...]] = []
    if surname in SURNAME_READINGS:
        units.append(tuple(tuple(r.split()) for r in SURNAME_READINGS[surname]))
    elif surname:
        given = surname + given
    chars = [ch for ch in given if ch != DOT]
    defaults = _default_readings("".join(chars)) if chars else ()
    for index, ch in enumerate(chars):
        readings = _char_readings(ch)
        if len(defaults) == len(chars) and _is_han(ch):
            first = (defaults[index],)
            readings = (first,) + tuple(r for r in readings if r != first)
        units.append(readings)
    return units


def readings(name: str) -> list[list[str]]:
    """Every reading of the name as syllables, the surname reading and the usual one first (bounded)."""
    units = _units(fold_name(name))
    combinations = itertools.islice(itertools.product(*units), MAX_READINGS)
    return [[syllable for unit in combination for syllable in unit] for combination in combinations]


def name_keys(name: str) -> set[tuple[str, str]]:
    """(kind, value) keys that find a name: itself, its given name's tails, full pinyin and initials."""
    folded = fold_name(name)
    if not folded:
        return set()
    keys = {(NAME, folded[:MAX_KEY_LENGTH])}
    surname, given = split_surname(folded)
    if DOT in folded:
        parts = [part for part in folded.split(DOT) if part]
        keys |= {(GIVEN, part[:MAX_KEY_LENGTH]) for part in parts[1:]}
    elif surname:
        keys |= {(GIVEN, given[i:]) for i in range(min(len(given), MAX_GIVEN_SUFFIXES))}
    for syllables in readings(name):
        keys.add((PINYIN, "".join(syllables)[:MAX_KEY_LENGTH]))
        keys.add((INITIALS, "".join(s[0] for s in syllables if s)[:MAX_KEY_LENGTH]))
    return keys


def customer_keys(*, name: str, id_number_index: str | None, mobile_index: str | None) -> set[tuple[str, str]]:
    """Every key of one customer's current profile (the hashes are computed by core.crypto)."""
    keys = name_keys(name)
    if id_number_index:
        keys.add((ID_NUMBER, id_number_index))
    if mobile_index:
        keys.add((MOBILE, mobile_index))
    return keys


# -- queries

@dataclass(frozen=True)
class Query:
    """What the clerk typed, read by its shape: which keys to look in and for what."""

    shape: str  # "name", "pinyin", "number", or "invalid"
    kinds: tuple[str, ...] = ()
    value: str = ""
    # ID numbers to hash (a 15-digit number and its 18-digit form, or the other way round).
    id_numbers: tuple[str, ...] = ()
    mobile: str | None = None
    numbers: dict = field(default_factory=dict)  # exact number lookups: kind -> value
    message: str | None = None

    @property
    def key_type(self) -> str:
        """The key type for the audit trail (never the value)."""
        if self.shape == "number":
            return "+".join(sorted(set(self.numbers) | ({ID_NUMBER} if self.id_numbers else set())
                                   | ({MOBILE} if self.mobile else set())))
        return self.shape


ID_18 = re.compile(r"\d{17}[\dX]")
ID_15 = re.compile(r"\d{15}")
MOBILE_RE = re.compile(r"1\d{10}")
CUSTOMER_NO_RE = re.compile(r"C\d{10}")
DIGITS_12 = re.compile(r"\d{12}")
SZ_SUB_ACCOUNT = re.compile(r"\d{10}")
SH_SUB_ACCOUNT = re.compile(r"[A-Z]\d{9}")
# Other document numbers (passport, residence permits): letters and digits, at least one digit.
OTHER_DOCUMENT = re.compile(r"(?=.*\d)[A-Z0-9]{5,20}")
PINYIN_RE = re.compile(r"[a-z' ]+")
NUMBER_HINT = "号码需输入完整：身份证号 15 或 18 位、手机号 11 位、客户号、资金账号、一码通或证券账户"


def fifteen_digit_form(number: str) -> str | None:
    """The first-generation 15-digit number an 18-digit resident ID born in the 1900s was upgraded from."""
    if ID_18.fullmatch(number) and number[6:8] == "19" and eighteen_digit_form(number[:6] + number[8:17]) == number:
        return number[:6] + number[8:17]
    return None


def parse_query(raw: str) -> Query | None:
    """Read a query by its shape; None when there is nothing to search for."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None
    if len(text) > MAX_QUERY_LENGTH:
        return Query("invalid", message=f"查询内容不能超过 {MAX_QUERY_LENGTH} 个字符")
    compact = "".join(text.split())
    upper = "".join(ch.upper() if ch.isascii() else ch for ch in compact)
    if upper.isascii() and upper.isalnum() and any(ch.isdigit() for ch in upper):
        return _number_query(upper)
    lowered = text.lower()
    if PINYIN_RE.fullmatch(lowered):
        value = lowered.replace(" ", "").replace("'", "")
        return Query("pinyin", kinds=(PINYIN, INITIALS), value=value) if value else None
    folded = fold_name(text)
    if not folded or folded == DOT:
        return None
    return Query("name", kinds=(NAME, GIVEN), value=folded[:MAX_KEY_LENGTH])


def _number_query(number: str) -> Query:
    numbers: dict[str, str] = {}
    id_numbers: list[str] = []
    mobile = None
    if ID_18.fullmatch(number):
        id_numbers = [number] + [n for n in [fifteen_digit_form(number)] if n]
    elif ID_15.fullmatch(number):
        id_numbers = [number] + [n for n in [eighteen_digit_form(number)] if n]
    elif MOBILE_RE.fullmatch(number):
        mobile = number
    elif CUSTOMER_NO_RE.fullmatch(number):
        numbers[CUSTOMER_NO] = number
    elif DIGITS_12.fullmatch(number):
        numbers[FUND_ACCOUNT] = number
        numbers[UNIFIED_ACCOUNT] = number
    elif SZ_SUB_ACCOUNT.fullmatch(number) or SH_SUB_ACCOUNT.fullmatch(number):
        numbers[SUB_ACCOUNT] = number
        if not number.isdigit():
            id_numbers = [number]  # a passport number has the same shape
    elif OTHER_DOCUMENT.fullmatch(number) and not number.isdigit():
        id_numbers = [number]
    if not (numbers or id_numbers or mobile):
        return Query("invalid", message=NUMBER_HINT)
    return Query("number", id_numbers=tuple(id_numbers), mobile=mobile, numbers=numbers)


def prefix_upper_bound(value: str) -> str:
    """The smallest string above every string starting with `value`, in code-point order.

    value <= key < bound is a b-tree range scan on SQLite (BINARY) and on PostgreSQL (COLLATE "C"),
    for characters outside the BMP too (a fixed '\\uffff' suffix would miss them).
    """
    for index in range(len(value) - 1, -1, -1):
        code = ord(value[index])
        if code < 0x10FFFF:
            following = code + 1
            if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be stored; skip over them
                following = 0xE000
            return value[:index] + chr(following)
    return value + "\U0010ffff"
