"""The prepared dossier face: what it holds, that its glyphs are Noto's own, and when it is stale."""
import json
import shutil

import pytest
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.ttLib import TTFont

from core.pdf import fonts


@pytest.fixture(scope="module")
def prepared():
    path = fonts.prepared_font()
    assert path is not None, "run: python -m core.pdf.fonts build"
    return TTFont(str(path))


@pytest.fixture(scope="module")
def source():
    path, index = fonts.font_file(fonts.PREPARED_SOURCE_FAMILY)
    return TTFont(str(path), fontNumber=index, lazy=True)


def test_charset_is_gb2312_with_latin_and_punctuation():
    charset = fonts.prepared_charset()
    for char in "客户证券开户档案王婧ABCxyz019，。；：“”（）【】①—…℃·":
        assert ord(char) in charset, char
    for rare in "䶮玥堃𠀀":  # Extension A, GBK-only, Extension B: from the installed fonts
        assert ord(rare) not in charset, rare
    assert 7_400 < len(charset) < 8_500


def test_prepared_face_has_its_own_names(prepared):
    names = prepared["name"]
    assert names.getDebugName(1) == fonts.PREPARED_FAMILY
    assert names.getDebugName(6) == "DossierSans-Regular"
    assert prepared["CFF "].cff.fontNames == ["DossierSans-Regular"]
    assert not any("Noto" in str(record) for record in names.names if record.nameID in (1, 4, 6, 16))


def test_prepared_face_maps_every_character_of_its_charset_that_noto_has(prepared, source):
    source_cmap = source.getBestCmap()
    wanted = {code for code in fonts.prepared_charset() if code in source_cmap}
    assert wanted <= set(prepared.getBestCmap())
    assert prepared["maxp"].numGlyphs < 16_000 < source["maxp"].numGlyphs


def _outline(font, char):
    glyph_name = font.getBestCmap()[ord(char)]
    pen = DecomposingRecordingPen(font.getGlyphSet())
    font.getGlyphSet()[glyph_name].draw(pen)
    return pen.value, font["hmtx"][glyph_name][0]


@pytest.mark.parametrize("char", list("刘客户证券档案，A9"))
def test_glyphs_and_advances_are_noto_sans_cjk_sc_own(prepared, source, char):
    assert _outline(prepared, char) == _outline(source, char)


def test_vertical_metrics_are_noto_sans_cjk_sc_own(prepared, source):
    for table, fields in (("hhea", ("ascent", "descent", "lineGap")),
                          ("OS/2", ("sTypoAscender", "sTypoDescender", "sTypoLineGap", "usWinAscent",
                                    "usWinDescent")),
                          ("head", ("unitsPerEm",))):
        for field in fields:
            assert getattr(prepared[table], field) == getattr(source[table], field), f"{table}.{field}"


def test_face_built_from_another_noto_or_damaged_is_stale(tmp_path):
    built = fonts.prepared_font()
    shutil.copy(built, tmp_path / fonts.PREPARED_FILE)
    manifest = json.loads((built.parent / fonts.PREPARED_MANIFEST).read_text())
    (tmp_path / fonts.PREPARED_MANIFEST).write_text(json.dumps(manifest))
    assert fonts.prepared_font(tmp_path) == tmp_path / fonts.PREPARED_FILE

    (tmp_path / fonts.PREPARED_MANIFEST).write_text(json.dumps({**manifest, "size": manifest["size"] + 1}))
    assert fonts.prepared_font(tmp_path) is None
    (tmp_path / fonts.PREPARED_MANIFEST).write_text(json.dumps({**manifest, "recipe": 0}))
    assert fonts.prepared_font(tmp_path) is None
    (tmp_path / fonts.PREPARED_MANIFEST).write_text(json.dumps(manifest))
    face = tmp_path / fonts.PREPARED_FILE
    face.write_bytes(face.read_bytes()[:100_000])  # truncated
    assert fonts.prepared_font(tmp_path) is None
    (tmp_path / fonts.PREPARED_MANIFEST).unlink()
    assert fonts.prepared_font(tmp_path) is None


def test_font_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOSSIER_FONT_DIR", str(tmp_path))
    assert fonts.prepared_font_dir() == tmp_path
    assert fonts.prepared_font() is None
    assert fonts.main(["fonts", "check"]) == 1


def test_check_command_reports_the_built_face(capsys):
    assert fonts.main(["fonts", "check"]) == 0
    assert fonts.PREPARED_FILE in capsys.readouterr().out
