"""Unit tests for the dossier PDF: template + render_pdf, read back with pypdf, fontTools and pdftoppm."""

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from blueprints.archive.dossier_pdf import render_dossier_html
from core.pdf import fonts
from core.pdf import renderer as pdf

CREATED = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
NAME = "刘䶮"  # 䶮 U+4DAE: CJK Extension A
FORMER_NAME = "刘𠀀"  # 𠀀 U+20000: CJK Extension B
TITLES = ["开户申请表", "投资者适当性评估", "影像资料"]


def png_bytes(size=(480, 300)) -> bytes:
    image = Image.new("RGB", size, "white")
    image.paste((30, 60, 120), (40, 40, size[0] - 40, size[1] - 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_record() -> dict:
    return {
        "customer": {"name": NAME, "customer_no": "C110105202600731", "former_name": FORMER_NAME},
        "suitability": {"total": 96, "level": "C3", "answered_on": dt.date(2026, 10, 26)},
    }


def make_context(record: dict, scan_path) -> dict:
    return {
        "firm": "华夏远景证券股份有限公司",
        "branch": "北京朝阳门营业部",
        "customer": {
            "name": NAME,
            "customer_no": "C110105202600731",
            "id_type_label": "居民身份证",
            "id_number_masked": "1****************X",
        },
        "archive_no": "DA-2026-110105-000731",
        "generated_at": "2026-11-25 10:30:00（北京时间）",
        "fingerprint": pdf.sha256_hex(pdf.record_json(record)),
        "sections": [
            {"key": "application", "title": TITLES[0],
             "rows": [("客户姓名", NAME), ("曾用名", FORMER_NAME), ("开户渠道", "临柜（现场见证）")]},
            {"key": "suitability", "title": TITLES[1],
             "tables": [{"headers": ["序号", "问题", "客户选择", "得分"], "widths": ["8%", "52%", "30%", "10%"],
                         "rows": [["1", "您的年龄处于哪个区间？", "B. 30 至 40 周岁", "8"],
                                  ["2", "您的投资经验可描述为？", "C. 丰富", "8"]]}],
             "rows": [("总分", "96"), ("风险承受能力等级", "C3 稳健型")]},
            {"key": "scans", "title": TITLES[2], "scans": [
                {"title": "身份证人像面", "mime": "image/png",
                 "src": "data:image/png;base64," + base64.b64encode(png_bytes()).decode()},
                {"title": "身份证国徽面", "mime": "image/png", "src": scan_path.as_uri()},
            ]},
        ],
    }


def render(html: str, attachments=()) -> bytes:
    return pdf.render_pdf(
        html, base_url="file:///", attachments=list(attachments),
        title=f"{NAME} 客户开户档案", author="华夏远景证券股份有限公司 北京朝阳门营业部", created=CREATED,
    )


@pytest.fixture(scope="module")
def dossier(tmp_path_factory):
    """One rendered dossier shared by the read-only checks below (rendering takes a while)."""
    scan_path = tmp_path_factory.mktemp("scans") / "id-back.png"
    scan_path.write_bytes(png_bytes((900, 560)))
    record = make_record()
    html = render_dossier_html(pdf.template_environment(), make_context(record, scan_path))
    data = render(html, [pdf.record_attachment(record)])
    return {"pdf": data, "reader": PdfReader(io.BytesIO(data)), "record": record, "html": html}


def all_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_text_holds_customer_name_section_titles_and_page_numbers(dossier):
    reader = dossier["reader"]
    text = all_text(reader)
    assert NAME in text
    assert FORMER_NAME in text
    for title in TITLES:
        assert title in text
    assert "第 1 页 共" in reader.pages[0].extract_text()
    assert f"第 {len(reader.pages)} 页 共 {len(reader.pages)} 页" in text
    assert 2 <= len(reader.pages) <= 4


def test_cover_shows_the_fingerprint_of_the_attached_record(dossier):
    cover = re.sub(r"\s", "", dossier["reader"].pages[0].extract_text())
    attached = dossier["reader"].attachments["record.json"][0]
    assert pdf.sha256_hex(attached) in cover


def _fonts(reader: PdfReader):
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            yield font.get_object()


def _glyph_ids(font) -> dict[str, int]:
    """Map text to glyph id from the font's ToUnicode CMap (bfchar entries, as WeasyPrint writes)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    return {
        bytes.fromhex(text).decode("utf-16-be"): int(glyph, 16)
        for glyph, text in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]+)>", cmap)
    }


def _embedded_program(font) -> bytes:
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    for key in ("/FontFile3", "/FontFile2", "/FontFile"):
        if key in descriptor:
            return descriptor[key].get_object().get_data()
    raise AssertionError(f"{font['/BaseFont']} is not embedded")


@pytest.mark.parametrize(
    ("char", "family"),
    [("刘", "Dossier-Sans"), ("䶮", "Noto-Sans-CJK-SC"), ("𠀀", "HanaMinB")],
)
def test_rare_characters_print_with_a_real_glyph_of_the_intended_font(dossier, char, family):
    for font in _fonts(dossier["reader"]):
        glyph_id = _glyph_ids(font).get(char)
        if glyph_id is None:
            continue
        assert family in font["/BaseFont"]
        program = TTFont(io.BytesIO(_embedded_program(font)))
        name = program.getGlyphOrder()[glyph_id]
        glyphs = program.getGlyphSet()
        pen = BoundsPen(glyphs)
        glyphs[name].draw(pen)
        assert pen.bounds is not None, f"{char} has an empty glyph in {font['/BaseFont']}"
        return
    pytest.fail(f"{char} is not in any font of the PDF")


def test_every_font_is_embedded(dossier):
    fonts = list(_fonts(dossier["reader"]))
    assert fonts
    for font in fonts:
        assert _embedded_program(font)


def test_metadata_declares_pdfa_3b(dossier):
    reader = dossier["reader"]
    assert reader.pdf_header == "%PDF-1.7"
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    rdf = ET.fromstring(xmp[xmp.index(b"<x:xmpmeta"):xmp.rindex(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")])
    pdfaid = "{http://www.aiim.org/pdfa/ns/id/}"
    ids = [d.attrib for d in rdf.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
           if pdfaid + "part" in d.attrib]
    assert ids == [{"{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about": "",
                    pdfaid + "part": "3", pdfaid + "conformance": "B"}]
    assert reader.trailer["/Root"]["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    assert reader.metadata.title == f"{NAME} 客户开户档案"
    assert reader.metadata.author == "华夏远景证券股份有限公司 北京朝阳门营业部"
    assert reader.metadata["/CreationDate"] == "D:20261125103000+08'00"


def test_record_is_attached_once_as_json_data(dossier):
    reader = dossier["reader"]
    attached = reader.attachments["record.json"]
    assert len(attached) == 1
    assert json.loads(attached[0]) == json.loads(pdf.record_json(dossier["record"]))
    associated = reader.trailer["/Root"]["/AF"]
    assert len(associated) == 1
    spec = associated[0].get_object()
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/UF"] == "record.json"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"


def test_cover_page_renders_to_png(dossier, tmp_path):
    assert shutil.which("pdftoppm"), "pdftoppm missing: install Debian's poppler-utils"
    source = tmp_path / "dossier.pdf"
    source.write_bytes(dossier["pdf"])
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(tmp_path / "cover")], check=True, timeout=60)
    cover = tmp_path / "cover.png"
    assert cover.stat().st_size > 5_000
    with Image.open(cover) as image:
        assert image.size[1] > image.size[0]  # A4 portrait
        inked = sum(image.convert("L").histogram()[:128])
    assert inked > 1_000  # text on the cover, not a blank page


def test_same_html_renders_to_identical_bytes(dossier):
    record = dossier["record"]
    assert render(dossier["html"], [pdf.record_attachment(record)]) == dossier["pdf"]


def test_record_json_is_canonical():
    first = {"b": 1, "a": {"d": dt.date(2026, 1, 2), "c": "䶮"}}
    second = {"a": {"c": "䶮", "d": dt.date(2026, 1, 2)}, "b": 1}
    assert pdf.record_json(first) == pdf.record_json(second)
    assert pdf.record_json(first) == '{"a":{"c":"䶮","d":"2026-01-02"},"b":1}'.encode()
    with pytest.raises(TypeError):
        pdf.record_json({"unknown": object()})


def test_sha256_hex_is_the_lowercase_hex_digest():
    assert pdf.sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_dossier_fonts_are_installed_here():
    assert fonts.missing_font_packages() == []


def test_missing_font_refuses_dossiers_and_names_the_package(monkeypatch):
    monkeypatch.setattr(fonts, "installed_families", lambda families: {"Noto Sans CJK SC"})
    with pytest.raises(pdf.DossierUnavailable, match="fonts-hanazono"):
        pdf.check_fonts()


def test_harfbuzz_subset_is_available_here():
    pdf.check_harfbuzz_subset()


def test_missing_harfbuzz_subset_refuses_dossiers(monkeypatch):
    import weasyprint.pdf.fonts

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    with pytest.raises(pdf.DossierUnavailable, match="libharfbuzz-subset0"):
        pdf.check_harfbuzz_subset()
    with pytest.raises(pdf.DossierUnavailable):
        render("<p>客户</p>")


def test_harfbuzz_older_than_4_1_refuses_dossiers(monkeypatch):
    import weasyprint.pdf.fonts

    class OldHarfBuzz:
        @staticmethod
        def hb_version_atleast(major, minor, micro):
            return (major, minor, micro) <= (4, 0, 0)

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz", OldHarfBuzz)
    with pytest.raises(pdf.DossierUnavailable, match="4.1.0"):
        pdf.check_harfbuzz_subset()


@pytest.mark.parametrize("src", ["file:///nonexistent/scan.png", "https://example.com/scan.png"])
def test_scan_that_cannot_be_read_stops_the_dossier(src):
    with pytest.raises(pdf.DossierResourceMissing):
        render(f'<img src="{src}">')


def test_character_without_any_glyph_is_reported(caplog):
    render('<p style="font-family: \'Noto Sans CJK SC\'">客户\U0010fffd</p>')
    assert "U+10FFFD" in caplog.text


def test_created_without_time_zone_is_refused():
    with pytest.raises(ValueError):
        pdf.render_pdf("<p>x</p>", base_url="file:///", attachments=[], title="t", author="a",
                       created=dt.datetime(2026, 11, 25, 10, 30))


def test_prepared_font_is_built_here():
    assert fonts.prepared_font() is not None, "run: python -m core.pdf.fonts build"


def _font_names(data: bytes) -> str:
    return " ".join(str(font["/BaseFont"]) for font in _fonts(PdfReader(io.BytesIO(data))))


def _gray_pages(data: bytes, folder, name: str) -> list[bytes]:
    source = folder / f"{name}.pdf"
    source.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "72", "-gray", str(source), str(folder / name)], check=True, timeout=120)
    return [page.read_bytes() for page in sorted(folder.glob(f"{name}-*.pgm"))]


def test_dossier_prints_the_same_pages_as_stock_weasyprint(dossier, tmp_path):
    """The prepared font changes how fast and how small, never what is printed."""
    import weasyprint

    stock = weasyprint.HTML(string=dossier["html"], base_url="file:///").write_pdf()
    assert "Dossier-Sans" in _font_names(dossier["pdf"])
    assert "Dossier-Sans" not in _font_names(stock)
    stock_pages = _gray_pages(stock, tmp_path, "stock")
    dossier_pages = _gray_pages(dossier["pdf"], tmp_path, "dossier")
    assert len(stock_pages) == len(dossier_pages) == len(dossier["reader"].pages)
    for number, (expected, printed) in enumerate(zip(stock_pages, dossier_pages), start=1):
        assert printed == expected, f"page {number} differs from stock WeasyPrint's"


def test_an_unreadable_prepared_font_is_reported_and_dossiers_still_print(monkeypatch, caplog):
    def unreadable():
        raise OSError("cannot read the font")

    monkeypatch.setattr(fonts, "prepared_font", unreadable)
    monkeypatch.setattr(pdf, "_renderer", pdf._Renderer())
    assert "客户" in all_text(PdfReader(io.BytesIO(render("<p>客户</p>"))))
    assert "cannot read the font" in caplog.text
    assert pdf._renderer.stylesheets == []


def test_without_the_prepared_font_dossiers_still_print_and_say_why(monkeypatch, caplog):
    monkeypatch.setattr(fonts, "prepared_font", lambda: None)
    monkeypatch.setattr(pdf, "_renderer", pdf._Renderer())
    data = render("<p>客户刘䶮</p>")
    assert "客户刘䶮" in all_text(PdfReader(io.BytesIO(data)))
    assert "Dossier-Sans" not in _font_names(data)
    assert "python -m core.pdf.fonts build" in caplog.text
