"""The fonts PDFs (dossiers, change slips) print with, the Debian packages that provide them, and the prepared face.

Run ``python -m core.pdf.fonts build`` once per machine (the setup
scripts do) to cut the prepared face, Dossier Sans, out of Noto Sans CJK SC.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

LOGGER = logging.getLogger(__name__)

# Families in the order of templates/archive/dossier.css and templates/changes/slip.css,
# with their Debian package.
# Noto Sans CJK SC covers everything a dossier normally holds, CJK Extension A
# included (䶮 U+4DAE); it lacks most of Extension B and later (𠀀 U+20000),
# which HanaMinB has (42,711 of the 42,720 Extension B ideographs). Its style
# (Mincho) differs, but a rare character in a name must print as itself.
FONT_PACKAGES: dict[str, str] = {
    "Noto Sans CJK SC": "fonts-noto-cjk",
    "HanaMinB": "fonts-hanazono",
}

# The prepared face (see build_prepared_font): Noto Sans CJK SC cut down to
# what nearly every dossier prints, under a family name of its own that the
# dossier's CSS lists first. A character it lacks falls through to the
# installed families above, which have the same outlines and metrics.
PREPARED_FAMILY = "Dossier Sans"
PREPARED_SOURCE_FAMILY = "Noto Sans CJK SC"
# Bump when the character set or the subsetting options change.
PREPARED_RECIPE = 1
PREPARED_FILE = "DossierSans-Regular.otf"
PREPARED_MANIFEST = "DossierSans-Regular.json"
DEFAULT_PREPARED_DIR = Path(__file__).resolve().parents[2] / "instance" / "fonts"

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


def font_file(family: str) -> tuple[Path, int] | None:
    """Return the file and face index fontconfig opens for family, or None if it is not installed."""
    from weasyprint.text.ffi import ffi, fontconfig

    if family not in installed_families([family]):
        return None
    pattern = ffi.gc(fontconfig.FcPatternCreate(), fontconfig.FcPatternDestroy)
    fontconfig.FcPatternAddString(pattern, b"family", family.encode())
    fontconfig.FcConfigSubstitute(ffi.NULL, pattern, fontconfig.FcMatchPattern)
    fontconfig.FcDefaultSubstitute(pattern)
    result = ffi.new("FcResult *")
    match = ffi.gc(fontconfig.FcFontMatch(ffi.NULL, pattern, result), fontconfig.FcPatternDestroy)
    name = ffi.new("FcChar8 **")
    if fontconfig.FcPatternGetString(match, b"file", 0, name) != _FC_RESULT_MATCH:
        return None
    path = Path(ffi.string(name[0]).decode())
    return path, _face_index(path, family)


def _face_index(path: Path, family: str) -> int:
    # Which face of a collection (.ttc) carries family: Noto Sans CJK SC is the third.
    from fontTools.ttLib import TTCollection

    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    collection = TTCollection(str(path), lazy=True)
    for index, face in enumerate(collection.fonts):
        if face["name"].getDebugName(1) == family:
            return index
    return 0


def prepared_charset() -> set[int]:
    """Return the code points of the prepared face: GB 2312 and the Latin and punctuation around it.

    GB 2312 (6,763 hanzi and 682 symbols) holds nearly every character of a
    dossier's labels, legal text and most names; rarer characters (GBK,
    Extension A and B) still print, from the installed fonts.
    """
    chars = set()
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((lead, trail)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    for first, last in (
        (0x0020, 0x007E),  # Basic Latin
        (0x00A0, 0x00FF),  # Latin-1: ×, ·, ¥, ©
        (0x2000, 0x206F),  # General Punctuation: — … ‰ ※
        (0x2100, 0x218F),  # Letterlike symbols and number forms: ℃ № Ⅻ
        (0x2460, 0x24FF),  # Enclosed alphanumerics: ① ⑴ ⒈
        (0x3000, 0x303F),  # CJK Symbols and Punctuation
        (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
    ):
        chars.update(range(first, last + 1))
    return chars


def prepared_font_dir() -> Path:
    """Return where the prepared face lives: DOSSIER_FONT_DIR, or instance/fonts of this checkout."""
    return Path(os.environ.get("DOSSIER_FONT_DIR") or DEFAULT_PREPARED_DIR)


def _source_stamp(source: Path, index: int) -> dict:
    stat = source.stat()
    return {"recipe": PREPARED_RECIPE, "source": str(source), "index": index,
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _built_stamp(target: Path) -> dict:
    # A truncated or replaced face must not pass for the one that was built.
    return {"built_sha256": hashlib.sha256(target.read_bytes()).hexdigest()}


def prepared_font(directory: Path | None = None) -> Path | None:
    """Return the prepared face if it was built from the Noto Sans CJK SC installed now, else None."""
    directory = directory or prepared_font_dir()
    target, manifest = directory / PREPARED_FILE, directory / PREPARED_MANIFEST
    source = font_file(PREPARED_SOURCE_FAMILY)
    if source is None or not target.is_file() or not manifest.is_file():
        return None
    try:
        built_from = json.loads(manifest.read_text())
    except ValueError:
        return None
    return target if built_from == {**_source_stamp(*source), **_built_stamp(target)} else None


def build_prepared_font(directory: Path | None = None) -> Path:
    """Cut the prepared face out of the installed Noto Sans CJK SC; return its path.

    Outlines, metrics and OpenType layout of the kept characters are Noto's
    own, so text lays out and prints exactly as with the installed family; the
    face is about 3.5 MB instead of a 19 MB collection, and its glyph ids stop
    near 14,000 instead of 65,535, which is what WeasyPrint's per-dossier
    subsetting and compression spend their time on. Takes 15-30 s.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    directory = directory or prepared_font_dir()
    source = font_file(PREPARED_SOURCE_FAMILY)
    if source is None:
        raise RuntimeError(
            f"{PREPARED_SOURCE_FAMILY} is not installed: apt-get install {FONT_PACKAGES[PREPARED_SOURCE_FAMILY]}")
    path, index = source
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    font = TTFont(str(path), fontNumber=index, lazy=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=prepared_charset())
    subsetter.subset(font)
    _rename(font, PREPARED_FAMILY)

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PREPARED_FILE
    partial = target.with_suffix(".partial")
    font.save(str(partial))
    partial.replace(target)
    stamp = {**_source_stamp(path, index), **_built_stamp(target)}
    (directory / PREPARED_MANIFEST).write_text(json.dumps(stamp, sort_keys=True))
    return target


def _rename(font, family: str) -> None:
    # A modified font must not pass itself off as the original (SIL OFL 1.1):
    # every family, full and PostScript name becomes the prepared face's own.
    postscript = family.replace(" ", "") + "-Regular"
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 16):
            names.setName(family, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (3, 4):
            names.setName(f"{family} Regular", record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(postscript, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID in (17,):
            names.setName("Regular", record.nameID, record.platformID, record.platEncID, record.langID)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        for key in ("FullName", "FamilyName"):
            if hasattr(top, key):
                setattr(top, key, family)
        if hasattr(top, "CIDFontName"):
            top.CIDFontName = postscript


def main(argv: list[str]) -> int:
    """``build``: build the prepared face unless it is up to date; ``check``: say whether it is."""
    command = argv[1] if len(argv) > 1 else "check"
    current = prepared_font()
    if command == "check":
        print(current or "not built: python -m core.pdf.fonts build")
        return 0 if current else 1
    if command == "build":
        if current and "--force" not in argv:
            print(f"up to date: {current}")
            return 0
        print(f"built: {build_prepared_font()}")
        return 0
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
