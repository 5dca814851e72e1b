"""The fonts dossier PDFs print with, and the Debian packages that provide them."""
from __future__ import annotations

# Families in the order of templates/archive/dossier.css, with their Debian package.
# Noto Sans CJK SC covers everything a dossier normally holds, CJK Extension A
# included (䶮 U+4DAE); it lacks most of Extension B and later (𠀀 U+20000),
# which HanaMinB has (42,711 of the 42,720 Extension B ideographs). Its style
# (Mincho) differs, but a rare character in a name must print as itself.
FONT_PACKAGES: dict[str, str] = {
    "Noto Sans CJK SC": "fonts-noto-cjk",
    "HanaMinB": "fonts-hanazono",
}

_FC_RESULT_MATCH = 0


def installed_families(families) -> set[str]:
    """Return the families that fontconfig resolves to themselves, not to a fallback."""
    from weasyprint.text.ffi import ffi, fontconfig

    found = set()
    for family in families:
        pattern = ffi.gc(fontconfig.FcPatternCreate(), fontconfig.FcPatternDestroy)
        fontconfig.FcPatternAddString(pattern, b"family", family.encode())
        fontconfig.FcConfigSubstitute(ffi.NULL, pattern, fontconfig.FcMatchPattern)
        fontconfig.FcDefaultSubstitute(pattern)
        result = ffi.new("FcResult *")
        match = fontconfig.FcFontMatch(ffi.NULL, pattern, result)
        if match == ffi.NULL:
            continue
        match = ffi.gc(match, fontconfig.FcPatternDestroy)
        # A font may carry several family names (HanaMinB, 花園明朝B).
        name = ffi.new("FcChar8 **")
        index = 0
        while fontconfig.FcPatternGetString(match, b"family", index, name) == _FC_RESULT_MATCH:
            if ffi.string(name[0]).decode().casefold() == family.casefold():
                found.add(family)
                break
            index += 1
    return found


def missing_font_packages() -> list[str]:
    """Return the Debian packages to install for the dossier fonts, if any."""
    installed = installed_families(FONT_PACKAGES)
    return sorted({package for family, package in FONT_PACKAGES.items() if family not in installed})
