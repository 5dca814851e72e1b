"""The layout caches of weasyprint_speedups: same bytes as WeasyPrint's own code, and only where they fit."""
import ast
import inspect
import logging
import textwrap

import pytest
import weasyprint
from weasyprint.text import fonts as text_fonts
from weasyprint.text import line_break
from weasyprint.text.fonts import FontConfiguration

from core.pdf import weasyprint_speedups as speedups

# Text that takes every branch the caches sit on: wrapping, justification,
# spacing, decorations, hyphenation, tabs, ellipsis, languages, sizes, bold,
# rare characters from fallback fonts, list markers and a footnote (pseudo-element
# styles made on demand), tables, and lines repeated in one document.
HTML = textwrap.dedent("""\
    <html lang="zh-CN"><head><style>
      @page { size: A5; margin: 12mm; @bottom-center { content: "第 " counter(page) " 页" } }
      body { font-family: "Noto Sans CJK SC", "HanaMinB", sans-serif; font-size: 9pt; line-height: 1.5 }
      .justify { text-align: justify } .spaced { letter-spacing: 1pt; word-spacing: 4pt }
      .under { text-decoration: underline } .through { text-decoration: line-through }
      .ellipsis { width: 30mm; white-space: nowrap; overflow: hidden; text-overflow: ellipsis }
      .pre { white-space: pre; tab-size: 4 } .big { font-size: 16pt; font-weight: bold }
      td { border: 0.5pt solid #999; padding: 1mm } table { border-collapse: collapse; width: 100% }
    </style></head><body>
    <h1 class="big">客户开户档案 刘䶮（曾用名 刘𠀀）</h1>
    <p class="justify">证券市场是一个风险无时不在的市场。您在进行证券交易时存在赢利的可能，也存在亏损的风险。
    为使您更好地了解其中的风险，根据有关证券交易法律法规和证券交易所业务规则，特提供本风险揭示书。</p>
    <p lang="en" style="hyphens: auto" class="justify">Investors should carefully read the risk disclosure
    statement and the suitability assessment before trading in securities, derivatives or funds.</p>
    <p class="spaced">间距 Letter and word spacing 测试 文字</p>
    <p class="under">下划线 underline</p><p class="through">删除线 struck</p>
    <p class="ellipsis">这一行很长，放不下，应当以省略号结尾，而不是换行</p>
    <p class="pre">制表符\t对齐\tTab\tstops</p>
    <ol><li>列表项一</li><li>列表项二 list item</li></ol><ul><li>无序列表</li></ul>
    <p>正文带脚注<span style="float: footnote">脚注：本风险揭示书的揭示事项仅为列举性质。</span>。</p>
    <table>{rows}</table>
    </body></html>
""").replace("{rows}", "".join(
    f"<tr><td>2026-11-{day:02d}</td><td>柜台业务岗</td><td>联系电话</td><td>客户临柜申请，已核实身份</td></tr>"
    for day in range(1, 29)))


def render(html: str, font_config: FontConfiguration) -> bytes:
    return weasyprint.HTML(string=html, base_url="file:///").render(font_config=font_config).write_pdf()


@pytest.fixture
def stock_then_cached():
    """Render with WeasyPrint's own code, then with the caches (compressed alike), then restore."""
    was_installed = speedups.is_installed()
    speedups.uninstall()
    try:
        stock = render(HTML, FontConfiguration())
        assert speedups.install()
        speedups.set_compression_level(9)  # pydyf's own, for a byte-for-byte comparison
        font_config = FontConfiguration()
        yield stock, [render(HTML, font_config) for _ in range(2)], font_config
    finally:
        speedups.uninstall()
        if was_installed:
            speedups.install()


def test_cached_rendering_gives_the_same_bytes_as_weasyprint(stock_then_cached):
    stock, cached, _ = stock_then_cached
    assert cached[0] == stock
    assert cached[1] == stock  # the second render is served from the caches


def test_caches_fill_per_font_configuration(stock_then_cached):
    _, _, font_config = stock_then_cached
    caches = speedups.caches(font_config)
    assert caches.line_breaks and caches.painted_lines and caches.struts
    assert len(caches.contexts) >= 2  # Chinese and English paragraphs
    assert speedups.is_installed()
    assert speedups.caches(FontConfiguration()).line_breaks == {}


def test_caches_stay_within_their_limits(monkeypatch):
    monkeypatch.setattr(speedups, "MAX_LINE_BREAKS", 10)
    monkeypatch.setattr(speedups, "MAX_PAINTED_LINES", 10)
    was_installed = speedups.is_installed()
    speedups.install()
    try:
        font_config = FontConfiguration()
        render(HTML, font_config)
        caches = speedups.caches(font_config)
        assert 0 < len(caches.line_breaks) <= 10
        assert 0 < len(caches.painted_lines) <= 10
    finally:
        if not was_installed:
            speedups.uninstall()


def test_compression_level_is_lower_than_pydyf_and_output_smaller_than_uncompressed():
    was_installed = speedups.is_installed()
    speedups.uninstall()
    try:
        assert speedups.install()
        default = render(HTML, FontConfiguration())
        speedups.set_compression_level(9)
        tightest = render(HTML, FontConfiguration())
    finally:
        speedups.uninstall()
        if was_installed:
            speedups.install()
    assert speedups.COMPRESSION_LEVEL == 6
    assert len(tightest) <= len(default) < len(tightest) * 1.05


def test_other_weasyprint_versions_are_left_unpatched(monkeypatch, caplog):
    was_installed = speedups.is_installed()
    speedups.uninstall()
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    try:
        with caplog.at_level(logging.WARNING):
            assert speedups.install() is False
        assert not speedups.is_installed()
        assert line_break.split_first_line.__module__ == "weasyprint.text.line_break"
        assert "71.0" in caplog.text
    finally:
        monkeypatch.undo()
        if was_installed:
            speedups.install()


def _style_keys(*functions) -> set[str]:
    """Every style['name'] a function reads."""
    keys = set()
    for function in functions:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute))
                    and getattr(node.value, "id", getattr(node.value, "attr", None)) == "style"
                    and isinstance(node.slice, ast.Constant)):
                keys.add(node.slice.value)
    return keys


def test_cache_keys_hold_every_style_property_the_cached_code_reads():
    # Guards the keys against a WeasyPrint upgrade (install() also checks the version).
    was_installed = speedups.is_installed()
    speedups.uninstall()
    try:
        _check_cache_keys()
    finally:
        if was_installed:
            speedups.install()


def _check_cache_keys():
    layout = line_break.Layout
    reactivated = (layout.setup, layout.set_text, layout.set_tabs, text_fonts.get_font_description)
    assert _style_keys(
        line_break.split_first_line, line_break.create_layout, line_break.first_line_metrics,
        line_break.line_size, *reactivated) <= set(speedups.LINE_BREAK_PROPERTIES)
    assert _style_keys(*reactivated) <= set(speedups.PAINT_PROPERTIES)
    assert _style_keys(line_break._font_style_cache_key) | {"font_size", "line_height"} \
        == set(speedups.STRUT_PROPERTIES)
    assert _style_keys(text_fonts.get_font_description) <= set(speedups.FONT_DESCRIPTION_PROPERTIES)


def test_replayed_lines_keep_their_own_text_for_a_shared_glyph():
    # U+F901 (a compatibility ideograph) and U+66F4 are one glyph in Noto Sans CJK SC:
    # the document's text layer must say which of them each line holds, as stock does.
    page = '<html><body style="font-family: Noto Sans CJK SC">{}</body></html>'
    first = page.format("<p>更新</p><p>\uf901新</p>")
    second = page.format("<p>\uf901新</p><p>更新</p>")
    was_installed = speedups.is_installed()
    speedups.uninstall()
    try:
        stock = render(second, FontConfiguration())
        speedups.install()
        speedups.set_compression_level(9)
        font_config = FontConfiguration()
        render(first, font_config)  # records both lines
        assert render(second, font_config) == stock
    finally:
        speedups.uninstall()
        if was_installed:
            speedups.install()


@pytest.fixture
def stock_and_cached():
    """render(html) with WeasyPrint's own code, and a renderer sharing one FontConfiguration with the caches."""
    was_installed = speedups.is_installed()
    speedups.uninstall()

    def stock(html):
        speedups.uninstall()
        try:
            return render(html, FontConfiguration())
        finally:
            speedups.install()
            speedups.set_compression_level(9)

    speedups.install()
    speedups.set_compression_level(9)
    font_config = FontConfiguration()
    try:
        yield stock, (lambda html: render(html, font_config))
    finally:
        speedups.uninstall()
        if was_installed:
            speedups.install()


MISSING, OTHER_MISSING = "\U000f0001", "\U000f0002"  # in no font: printed as stand-in glyphs
PLAIN = '<html><body style="font-family: Noto Sans CJK SC">{}</body></html>'


def test_lines_with_characters_no_font_has_are_never_replayed(stock_and_cached):
    stock, cached = stock_and_cached
    first = PLAIN.format(f'<p style="font-size: 23px">{MISSING}</p><p>客户{MISSING}</p>')
    second = PLAIN.format(f'<p style="font-size: 23px">{OTHER_MISSING}</p><p>客户{MISSING}</p>')
    assert cached(first) == stock(first)
    assert cached(second) == stock(second)


def test_stand_in_glyph_widths_follow_the_last_line_as_in_weasyprint(stock_and_cached):
    stock, cached = stock_and_cached
    html = PLAIN.format(f'<p style="font-size: 23px">{MISSING}</p><p style="font-size: 7px">{MISSING}</p>')
    assert cached(html) == stock(html)


def test_a_new_font_face_empties_the_caches(stock_and_cached, tmp_path):
    from core.pdf import fonts

    stock, cached = stock_and_cached
    face = fonts.prepared_font()
    assert face is not None
    before = PLAIN.format('<p style="font-family: Later Face, Noto Sans CJK SC">客户档案</p>')
    after = before.replace(
        "<body", f'<head><style>@font-face {{ font-family: "Later Face"; src: url("{face.as_uri()}") }}'
                  "</style></head><body")
    cached(before)
    assert cached(after) == stock(after)


def test_font_data_is_only_deferred_inside_font_init():
    from weasyprint.pdf import fonts as pdf_fonts

    was_installed = speedups.is_installed()
    speedups.install()
    try:
        document = weasyprint.HTML(string=PLAIN.format("<p>客户</p>")).render(font_config=FontConfiguration())
        document.write_pdf()
        font = next(iter(document.fonts.values()))
        data = pdf_fonts.get_hb_object_data(font.hb_face)  # as another caller would ask
        assert isinstance(data, bytes) and len(data) > 1_000_000
    finally:
        if not was_installed:
            speedups.uninstall()


def test_full_cache_drops_its_least_recently_used_quarter():
    cache = {}
    for number in range(8):
        speedups._store(cache, number, str(number), limit=8)
    assert speedups._hit(cache, 0) == "0"  # used again: now the most recent
    speedups._store(cache, 8, "8", limit=8)
    assert list(cache) == [3, 4, 5, 6, 7, 0, 8]
    assert speedups._hit(cache, 1) is None
