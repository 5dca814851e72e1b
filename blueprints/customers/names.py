"""Search keys for names: the name stays exactly as on the ID; these columns only help find it."""
import unicodedata

from pypinyin import Style, lazy_pinyin

# Middle-dot look-alikes typed or printed in transliterated names (阿卜杜·热合曼): all fold to U+00B7.
# U+FF0E (full-width full stop) and its NFKC form "." stand in for the dot when typed in a Chinese IME.
MIDDLE_DOTS = "\u00b7\u2022\u2027\u2219\u30fb\uff65\u0387\u22c5\u16eb\uff0e."
_FOLD_DOTS = str.maketrans({dot: "\u00b7" for dot in MIDDLE_DOTS})


def name_key(name: str) -> str:
    """The normalised form matched by searches: NFKC, one middle dot, no spaces."""
    text = unicodedata.normalize("NFKC", (name or "").translate(_FOLD_DOTS)).translate(_FOLD_DOTS)
    return "".join(ch for ch in text if not ch.isspace())


def _syllables(name: str) -> list[str]:
    # Characters pypinyin does not know (letters, the middle dot, rare ideographs) pass through as they are.
    return [s.lower() for s in lazy_pinyin(name_key(name), errors=lambda chars: list(chars)) if s != "\u00b7"]


def name_pinyin(name: str) -> str:
    """Full pinyin without tones or spaces: 张伟 → zhangwei."""
    return "".join(_syllables(name))


def name_initials(name: str) -> str:
    """The first letter of each syllable: 张伟 → zw."""
    return "".join(s[0] for s in lazy_pinyin(name_key(name), style=Style.FIRST_LETTER,
                                            errors=lambda chars: list(chars)) if s and s != "\u00b7").lower()
