"""Caches that make WeasyPrint 70.0 lay out and paint dossiers faster, with byte-identical output.

A dossier is about 1,400 short runs of text (table cells, labels, legal
paragraphs), most of them the same from one customer to the next. For each
run WeasyPrint creates a Pango context, a font description and a layout,
shapes the text to break the line, throws all of it away, and does it all
again to paint the line. These caches keep what depends only on the text and
the font properties, per FontConfiguration (so per set of fonts):

- split_first_line results: where a text breaks in a given width, and its
  size (the layout WeasyPrint returns is inert by then: text and numbers);
- Pango contexts per direction and language, font descriptions and
  OpenType feature strings per font, instead of one of each per text run;
- struts (line height and baseline per font and size);
- the shaped Pango layout a line is painted from, and what painting it
  wrote the first time, replayed for the same line later (never for a line
  with a character no font has, an emoji or a bitmap font).

A new @font-face empties the caches of its font configuration, since a
family name may then give another font; full caches drop their least
recently used quarter.

The user-agent stylesheet gives every element ::marker, ::footnote-call and
four more pseudo-elements; WeasyPrint computes a style for each of them (six
per table cell) although only list items and footnotes ever ask. Those styles
are now made when asked for.

Two more changes do not touch the pages: a font's whole file (19 MB for the
Noto collection, 30 MB for HanaMinB) is copied out of HarfBuzz only if
WeasyPrint ends up embedding it whole, not on every render before it embeds
a subset; and PDF streams are compressed at zlib level 6 instead of pydyf's
9, which takes half the time for 1 % more bytes (COMPRESSION_LEVEL).

Everything else, including what goes into the PDF, is WeasyPrint's own code.
The caches are keyed by every style property the cached code reads, so a
different font, size, spacing or language is a different entry. install()
only patches the WeasyPrint version the patches were written against; with
any other version, dossiers render unpatched (correct, slower) and a warning
says so. tests/unit/test_weasyprint_speedups.py checks that documents render
to the same bytes with and without them.
"""
from __future__ import annotations

import itertools
import logging
import operator
import re
import threading

LOGGER = logging.getLogger(__name__)

SUPPORTED_VERSION = "70.0"

# Every style property that split_first_line reads, directly or through
# create_layout, Layout.setup, Layout.set_text and first_line_metrics.
LINE_BREAK_PROPERTIES = (
    "white_space", "font_size", "hyphens", "lang", "hyphenate_limit_chars", "hyphenate_character",
    "hyphenate_limit_zone", "overflow_wrap", "word_break", "letter_spacing", "word_spacing", "tab_size",
    "direction", "font_language_override", "font_family", "font_style", "font_stretch", "font_weight",
    "font_variant_caps", "font_variation_settings", "font_kerning", "font_variant_ligatures",
    "font_variant_position", "font_variant_numeric", "font_variant_alternates", "font_variant_east_asian",
    "font_feature_settings", "text_decoration_line",
)
# What Layout.reactivate (setup and set_text) reads to rebuild a line for painting.
PAINT_PROPERTIES = (
    "white_space", "font_size", "lang", "letter_spacing", "word_spacing", "overflow_wrap", "tab_size",
    "direction", "font_language_override", "font_family", "font_style", "font_stretch", "font_weight",
    "font_variant_caps", "font_variation_settings", "font_kerning", "font_variant_ligatures",
    "font_variant_position", "font_variant_numeric", "font_variant_alternates", "font_variant_east_asian",
    "font_feature_settings", "text_decoration_line",
)
FONT_DESCRIPTION_PROPERTIES = (
    "font_family", "font_style", "font_stretch", "font_weight", "font_size", "font_variant_caps",
    "font_variation_settings",
)
# What WeasyPrint's own strut cache is keyed by (_font_style_cache_key with the size).
STRUT_PROPERTIES = (
    "font_family", "font_style", "font_stretch", "font_weight", "font_variant_ligatures",
    "font_variant_position", "font_variant_caps", "font_variant_numeric", "font_variant_alternates",
    "font_variant_east_asian", "font_feature_settings", "font_variation_settings", "font_language_override",
    "lang", "font_size", "line_height",
)
FONT_FEATURE_PROPERTIES = (
    "font_kerning", "font_variant_ligatures", "font_variant_position", "font_variant_caps",
    "font_variant_numeric", "font_variant_alternates", "font_variant_east_asian", "font_feature_settings",
)

# Entries per cache: a dossier needs about 1,500 line breaks and 1,400 painted
# lines, of which about 150 and 50 are new for each customer. Full, the caches
# take about 30 MB; the quarter least recently used is then dropped.
MAX_LINE_BREAKS = 20_000
MAX_PAINTED_LINES = 5_000

COMPRESSION_LEVEL = 6

# Pseudo-elements whose styles are made on demand: the user-agent stylesheet
# matches them on every element, and only list items and footnotes use them.
ON_DEMAND_PSEUDO_ELEMENTS = frozenset(
    {"marker", "footnote-call", "footnote-marker", "note-call", "note-marker", "note-callback"})

_ATTRIBUTE = "_dossier_speedups"
_lock = threading.Lock()
_originals: dict[str, object] = {}


class _Caches:
    """The caches of one FontConfiguration (one Pango font map)."""

    def __init__(self):
        self.line_breaks: dict = {}
        self.painted_lines: dict = {}
        self.contexts: dict = {}
        self.descriptions: dict = {}
        self.features: dict = {}
        self.struts: dict = {}


def _hit(cache: dict, key):
    """Return the entry for key, marking it as the most recently used (None if absent)."""
    found = cache.pop(key, None)
    if found is not None:
        cache[key] = found
    return found


def _store(cache: dict, key, value, limit: int) -> None:
    """Add an entry; a full cache first drops its least recently used quarter."""
    if len(cache) >= limit:
        for old in list(itertools.islice(cache, max(1, limit // 4))):
            del cache[old]
    cache[key] = value


def caches(font_config) -> _Caches:
    """Return the caches kept on font_config, creating them on first use."""
    found = font_config.__dict__.get(_ATTRIBUTE)
    if found is None:
        found = font_config.__dict__[_ATTRIBUTE] = _Caches()
    return found


# The keys are tuples of style values (ComputedStyle computes a missing one on
# access, as style[name] does). A value that is not hashable makes the caller
# fall back to WeasyPrint's own code.
_line_break_key = operator.itemgetter(*LINE_BREAK_PROPERTIES)
_paint_key = operator.itemgetter(*PAINT_PROPERTIES)
_description_key = operator.itemgetter(*FONT_DESCRIPTION_PROPERTIES)
_features_key = operator.itemgetter(*FONT_FEATURE_PROPERTIES)
_strut_key = operator.itemgetter(*STRUT_PROPERTIES)


def is_installed() -> bool:
    return bool(_originals)


def _weasyprint_modules() -> dict:
    """The modules whose functions the caches replace (each module that imported one by name)."""
    import pydyf
    import weasyprint.css
    import weasyprint.draw
    from weasyprint.css import computed_values
    from weasyprint.draw import text as draw_text
    from weasyprint.layout import inline, preferred
    from weasyprint.pdf import fonts as pdf_fonts
    from weasyprint.svg import text as svg_text
    from weasyprint.text import line_break
    from weasyprint.text.fonts import FontConfiguration

    return {
        "line_break": line_break, "draw_text": draw_text, "pdf_fonts": pdf_fonts, "pydyf": pydyf,
        "style_for": weasyprint.css.StyleFor,
        "font_configuration": FontConfiguration,
        "split_first_line": (line_break, inline, preferred, svg_text),
        "strut": (line_break, inline, computed_values),
        "draw_text_users": (draw_text, weasyprint.draw),
    }


def install() -> bool:
    """Patch WeasyPrint with the caches; return whether they are active."""
    import weasyprint

    with _lock:
        if _originals:
            return True
        if weasyprint.__version__ != SUPPORTED_VERSION:
            LOGGER.warning(
                "WeasyPrint %s is not %s: dossiers render without the layout caches (slower, same output)",
                weasyprint.__version__, SUPPORTED_VERSION)
            return False
        modules = _weasyprint_modules()
        line_break, draw_text, pdf_fonts = modules["line_break"], modules["draw_text"], modules["pdf_fonts"]
        _originals.update(
            strut=line_break.strut,
            split_first_line=line_break.split_first_line,
            setup=line_break.Layout.setup,
            draw_text=draw_text.draw_text,
            draw_first_line=draw_text.draw_first_line,
            font_init=pdf_fonts.Font.__init__,
            get_hb_object_data=pdf_fonts.get_hb_object_data,
            add_font_face=modules["font_configuration"].add_font_face,
            pydyf_zlib=modules["pydyf"].zlib,
            set_computed_styles=modules["style_for"].set_computed_styles,
            style_for_call=modules["style_for"].__call__,
        )
        split = _cached_split_first_line(line_break.split_first_line, line_break.Layout)
        for module in modules["split_first_line"]:
            module.split_first_line = split
        strut = _cached_strut(line_break.strut)
        for module in modules["strut"]:
            module.strut = strut
        line_break.Layout.setup = _cached_setup
        cached_draw_text, cached_draw_first_line = _cached_draw_text(draw_text.draw_text, draw_text.draw_first_line)
        for module in modules["draw_text_users"]:
            module.draw_text = cached_draw_text
        draw_text.draw_first_line = cached_draw_first_line
        deferred, init = _font_init_without_copy(
            pdf_fonts.Font.__init__, pdf_fonts, pdf_fonts.get_hb_object_data)
        pdf_fonts.get_hb_object_data, pdf_fonts.Font.__init__ = deferred, init
        pdf_fonts.Font.file_content = property(_file_content, _set_file_content)
        modules["pydyf"].zlib = _Zlib(COMPRESSION_LEVEL)
        modules["font_configuration"].add_font_face = _emptying_caches(modules["font_configuration"].add_font_face)
        style_for = modules["style_for"]
        style_for.set_computed_styles, style_for.__call__ = _styles_on_demand(
            style_for.set_computed_styles, style_for.__call__)
        return True


def uninstall() -> None:
    """Put WeasyPrint's own functions back (tests compare the two)."""
    with _lock:
        if not _originals:
            return
        modules = _weasyprint_modules()
        for module in modules["split_first_line"]:
            module.split_first_line = _originals["split_first_line"]
        for module in modules["strut"]:
            module.strut = _originals["strut"]
        modules["line_break"].Layout.setup = _originals["setup"]
        for module in modules["draw_text_users"]:
            module.draw_text = _originals["draw_text"]
        modules["draw_text"].draw_first_line = _originals["draw_first_line"]
        modules["pdf_fonts"].Font.__init__ = _originals["font_init"]
        modules["pdf_fonts"].get_hb_object_data = _originals["get_hb_object_data"]
        modules["font_configuration"].add_font_face = _originals["add_font_face"]
        del modules["pdf_fonts"].Font.file_content
        modules["pydyf"].zlib = _originals["pydyf_zlib"]
        modules["style_for"].set_computed_styles = _originals["set_computed_styles"]
        modules["style_for"].__call__ = _originals["style_for_call"]
        _originals.clear()


def _emptying_caches(add_font_face):
    def add_font_face_and_forget(font_config, rule_descriptors, url_fetcher):
        # A new @font-face can change which font a family name gives: what
        # the caches hold for this font configuration may no longer be true.
        font_config.__dict__.pop(_ATTRIBUTE, None)
        return add_font_face(font_config, rule_descriptors, url_fetcher)

    return add_font_face_and_forget


def _styles_on_demand(set_computed_styles, call):
    """StyleFor methods that compute the styles of ON_DEMAND_PSEUDO_ELEMENTS when first asked for."""

    def deferring_set_computed_styles(self, element, parent, root=None, pseudo_type=None, base_url=None,
                                      target_collector=None):
        if pseudo_type in ON_DEMAND_PSEUDO_ELEMENTS:
            cascaded = self._cascaded_styles.get((element, pseudo_type), {})
            # An anchor must be collected now, in document order: compute that style now.
            if "anchor" not in cascaded:
                self.__dict__.setdefault("_on_demand", {})[element, pseudo_type] = (
                    cascaded, parent, root, base_url, target_collector)
                return
        set_computed_styles(self, element, parent, root, pseudo_type, base_url, target_collector)

    def computing_call(self, element, pseudo_type=None):
        on_demand = self.__dict__.get("_on_demand")
        if on_demand:
            deferred = on_demand.pop((element, pseudo_type), None)
            if deferred is not None:
                cascaded, parent, root, base_url, target_collector = deferred
                # The cascade is cleared once all styles are computed: lend it back.
                self._cascaded_styles[element, pseudo_type] = cascaded
                try:
                    set_computed_styles(self, element, parent, root, pseudo_type, base_url, target_collector)
                finally:
                    del self._cascaded_styles[element, pseudo_type]
        return call(self, element, pseudo_type)

    return deferring_set_computed_styles, computing_call


def set_compression_level(level: int) -> None:
    """Compress PDF streams at this zlib level while the speed-ups are installed (tests use 9, pydyf's)."""
    import pydyf

    if _originals:
        pydyf.zlib = _Zlib(level)


class _Zlib:
    """The zlib module as pydyf sees it, at another compression level."""

    def __init__(self, level: int):
        import zlib

        self._zlib = zlib
        self.level = level

    def compressobj(self, level=None, *args, **kwargs):
        return self._zlib.compressobj(self.level, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._zlib, name)


_NOT_READ = object()
_in_font_init = threading.local()


def _font_init_without_copy(font_init, pdf_fonts, get_hb_object_data):
    def deferred(hb_object, *args, **kwargs):
        # Only Font.__init__'s own call, in this thread, is deferred; any other
        # caller (subsetting, emoji glyphs, another thread) gets the data.
        if not args and not kwargs and getattr(_in_font_init, "active", False):
            return _NOT_READ
        return get_hb_object_data(hb_object, *args, **kwargs)

    def init(self, pango_font, description, font_size):
        # Font.__init__ copies the whole font file; subsetting reads the
        # HarfBuzz face instead and replaces it. Read it only if it is used.
        _in_font_init.active = True
        try:
            font_init(self, pango_font, description, font_size)
        finally:
            _in_font_init.active = False

    return deferred, init


def _file_content(font):
    from weasyprint.text.fonts import get_hb_object_data

    content = font.__dict__.get("_file_content", _NOT_READ)
    if content is _NOT_READ:
        content = font.__dict__["_file_content"] = get_hb_object_data(font.hb_face)
    return content


def _set_file_content(font, content):
    font.__dict__["_file_content"] = content


def _cached_split_first_line(split_first_line, layout_class):
    def cached(text, style, context, max_width, justification_spacing, is_line_start=True, minimum=False):
        line_breaks = caches(style.font_config).line_breaks
        try:
            key = (text, max_width, justification_spacing, is_line_start, minimum,
                   _line_break_key(style))
            found = _hit(line_breaks, key)
        except TypeError:
            return split_first_line(
                text, style, context, max_width, justification_spacing, is_line_start, minimum)
        if found is None:
            layout, *sizes = split_first_line(
                text, style, context, max_width, justification_spacing, is_line_start, minimum)
            # The layout comes back deactivated: text and numbers only. Kept as
            # a plain dict, the entry holds nothing the garbage collector must
            # walk; each text box gets a layout of its own made from it.
            _store(line_breaks, key, (dict(layout.__dict__), *sizes), MAX_LINE_BREAKS)
            return (layout, *sizes)
        layout = layout_class.__new__(layout_class)
        layout.__dict__.update(found[0])
        return (layout, *found[1:])

    return cached


def _cached_strut(strut):
    def cached(style):
        struts = caches(style.font_config).struts
        try:
            key = _strut_key(style)
            found = struts.get(key)
        except TypeError:
            return strut(style)
        if found is None:
            found = struts[key] = strut(style)
        return found

    return cached


def _cached_setup(self, style):
    """Layout.setup of WeasyPrint 70.0, with contexts, font descriptions and features reused."""
    from weasyprint.text.constants import LST_TO_ISO, PANGO_DIRECTION
    from weasyprint.text.ffi import FROM_UNITS, ffi, gobject, pango, unicode_to_char_p
    from weasyprint.text.fonts import font_features, get_font_description

    self.style = style
    self.first_line_direction = 0
    font_config = style.font_config
    cached = caches(font_config)

    override = style["font_language_override"]
    if override != "normal":
        lang = LST_TO_ISO.get(override.lower(), override)
    else:
        lang = style["lang"] or None
    context_key = (style["direction"], lang)
    found = cached.contexts.get(context_key)
    if found is None:
        # A context is only read by the layouts made from it, never changed
        # after this: one per direction and language serves them all.
        pango_context = ffi.gc(pango.pango_font_map_create_context(font_config.font_map), gobject.g_object_unref)
        pango.pango_context_set_round_glyph_positions(pango_context, False)
        pango.pango_context_set_base_dir(pango_context, PANGO_DIRECTION[style["direction"]])
        if lang:
            lang_p, _ = unicode_to_char_p(lang)
            language = pango.pango_language_from_string(lang_p)
            pango.pango_context_set_language(pango_context, language)
        else:
            language = pango.pango_language_get_default()
        found = cached.contexts[context_key] = (pango_context, language)
    pango_context, self.language = found

    assert not isinstance(style["font_family"], str), "font_family should be a list"
    description_key = _description_key(style)
    font_description = cached.descriptions.get(description_key)
    if font_description is None:
        # pango_layout_set_font_description copies it: one per font serves all layouts.
        font_description = cached.descriptions[description_key] = get_font_description(style)
    self.layout = ffi.gc(pango.pango_layout_new(pango_context), gobject.g_object_unref)
    pango.pango_layout_set_auto_dir(self.layout, False)
    pango.pango_layout_set_font_description(self.layout, font_description)

    if style["text_decoration_line"] != "none":
        metrics = ffi.gc(
            pango.pango_context_get_metrics(pango_context, font_description, self.language),
            pango.pango_font_metrics_unref)
        self.ascent = FROM_UNITS * pango.pango_font_metrics_get_ascent(metrics)
        self.underline_position = FROM_UNITS * pango.pango_font_metrics_get_underline_position(metrics)
        self.strikethrough_position = FROM_UNITS * pango.pango_font_metrics_get_strikethrough_position(metrics)
        self.underline_thickness = FROM_UNITS * pango.pango_font_metrics_get_underline_thickness(metrics)
        self.strikethrough_thickness = FROM_UNITS * pango.pango_font_metrics_get_strikethrough_thickness(metrics)
    else:
        self.ascent = None
        self.underline_position = None
        self.strikethrough_position = None

    features_key = _features_key(style)
    features = cached.features.get(features_key)
    if features is None:
        wanted = font_features(*features_key)
        features = cached.features[features_key] = (
            ",".join(f"{key} {value}" for key, value in wanted.items()).encode() if wanted else b"")
    if features:
        attr = font_config.font_features.setdefault(features, pango.pango_attr_font_features_new(features))
        attr_list = pango.pango_attr_list_new()
        pango.pango_attr_list_insert(attr_list, attr)
        pango.pango_layout_set_attributes(self.layout, attr_list)


_DECORATION_METRICS = (
    "ascent", "underline_position", "strikethrough_position", "underline_thickness", "strikethrough_thickness")
_HEX_GLYPHS = re.compile(r"<([0-9a-f]+)>")


class _PaintedLine:
    """A shaped line kept for painting, and what painting it wrote the first time."""

    __slots__ = ("layout", "language", "metrics", "operations", "glyphs")

    def __init__(self, layout, language, metrics):
        self.layout = layout
        self.language = language
        self.metrics = metrics
        # None: not recorded yet; False: not replayable (emoji, bitmap or missing glyphs).
        self.operations = None
        self.glyphs = None


def _cached_draw_text(draw_text, draw_first_line):
    from weasyprint.text.ffi import pango

    def reactivate(layout, style):
        """Layout.reactivate, reusing the shaped Pango layout of an identical line."""
        painted_lines = caches(style.font_config).painted_lines
        try:
            key = (layout.text, layout.justification_spacing, _paint_key(style))
            found = _hit(painted_lines, key)
        except TypeError:
            type(layout).reactivate(layout, style)
            return
        if found is None:
            type(layout).reactivate(layout, style)
            # draw_first_line sets this before reading the line; set it once, here.
            pango.pango_layout_set_single_paragraph_mode(layout.layout, True)
            found = _PaintedLine(
                layout.layout, layout.language, tuple(layout.__dict__.get(name) for name in _DECORATION_METRICS))
            _store(painted_lines, key, found, MAX_PAINTED_LINES)
        else:
            layout.style = style
            layout.first_line_direction = 0
            layout.layout, layout.language = found.layout, found.language
            for name, value in zip(_DECORATION_METRICS, found.metrics):
                setattr(layout, name, value)
        layout.painted_line = found

    def cached_draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis="none"):
        if text_overflow == "ellipsis" or block_ellipsis != "none":
            # Ellipsis changes the layout's width and text while painting: not shareable.
            return draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis)
        layout = textbox.pango_layout
        layout.reactivate = reactivate.__get__(layout)
        try:
            return draw_text(stream, textbox, offset_x, text_overflow, block_ellipsis)
        finally:
            del layout.reactivate
            layout.__dict__.pop("painted_line", None)

    def cached_draw_first_line(stream, textbox, text_overflow, block_ellipsis, matrix):
        """draw_first_line, replaying what it wrote for an identical line in the same fonts."""
        painted = textbox.pango_layout.__dict__.get("painted_line")
        if (painted is None or painted.operations is False or text_overflow == "ellipsis"
                or block_ellipsis != "none" or not textbox.text.strip()
                or textbox.style["font_size"] < 1e-6):
            return draw_first_line(stream, textbox, text_overflow, block_ellipsis, matrix)
        if painted.operations is None:
            recorder = _Recorder(stream)
            emojis = None
            try:
                emojis = draw_first_line(recorder, textbox, text_overflow, block_ellipsis, matrix)
            finally:
                painted.operations, painted.glyphs = recorder.close(emojis)
                if emojis is None:  # draw_first_line raised: never replay half a line
                    painted.operations = False
            return emojis
        stream.set_text_matrix(*matrix.values)
        glyphs = iter(painted.glyphs)
        for operation, value, extra in painted.operations:
            if operation == "font":
                font, _ = stream.add_font(value)
                # What draw_first_line records in the document's font for each glyph
                # of the line, first writer wins, as it does there.
                for glyph_id, text, width in next(glyphs):
                    if glyph_id not in font.to_unicode:
                        font.to_unicode[glyph_id] = text
                    if glyph_id not in font.widths:
                        font.widths[glyph_id] = width
            elif operation == "size":
                stream.set_font_size(value, extra)
            elif operation == "show":
                stream.show_text(value)
            else:
                stream.set_text_rise(value)
        return []

    return cached_draw_text, cached_draw_first_line


class _Recorder:
    """A PDF stream as draw_first_line sees it, writing through and noting what it wrote.

    While recording, each font the line uses gets empty to_unicode and widths
    maps, so that they receive this line's own glyph texts and widths (the
    document's maps may already hold another line's text for a glyph); close()
    merges them back, first writer wins, as draw_first_line itself does.
    """

    def __init__(self, stream):
        self._stream = stream
        self._operations = []
        self._fonts = []  # one per add_font call: (font, its line maps)
        self._maps = {}  # id(font) -> (font, document to_unicode, document widths)
        self._replayable = True

    def __getattr__(self, name):
        # ink_rect and logical_rect, the scratch rectangles for glyph extents.
        return getattr(self._stream, name)

    def set_text_matrix(self, *values):
        self._stream.set_text_matrix(*values)

    def add_font(self, pango_font):
        font, font_size = self._stream.add_font(pango_font)
        if font.png or font.svg or font.colr or font.bitmap:
            self._replayable = False
        if id(font) not in self._maps:
            self._maps[id(font)] = (font, font.to_unicode, font.widths)
            font.to_unicode, font.widths = {}, {}
        self._fonts.append(font)
        self._operations.append(("font", pango_font, None))
        return font, font_size

    def set_font_size(self, font, size):
        self._operations.append(("size", font, size))
        self._stream.set_font_size(font, size)

    def show_text(self, text):
        self._operations.append(("show", text, None))
        self._stream.show_text(text)

    def set_text_rise(self, rise):
        self._operations.append(("rise", rise, None))
        self._stream.set_text_rise(rise)

    def close(self, emojis):
        """Merge the line's maps back; return (operations, glyphs per font change) or (False, None).

        A run's glyphs are shown once the next run's font is added, before its
        size is set: glyphs belong to the font of the last size set.
        """
        line_maps = {}
        for key, (font, to_unicode, widths) in self._maps.items():
            line_maps[key] = (font.to_unicode, font.widths)
            for glyph_id, text in font.to_unicode.items():
                to_unicode.setdefault(glyph_id, text)
            for glyph_id, width in font.widths.items():
                if glyph_id >= font.glyph_count:
                    # A stand-in for a character no font has (get_unused_glyph_id):
                    # draw_first_line sets its width on every line, the last wins.
                    widths[glyph_id] = width
                    self._replayable = False
                else:
                    widths.setdefault(glyph_id, width)
            font.to_unicode, font.widths = to_unicode, widths
        if emojis or not self._replayable:
            return False, None
        glyphs = [[] for _ in self._fonts]
        added = current = -1
        for operation, value, _ in self._operations:
            if operation == "font":
                added += 1
            elif operation == "size":
                current = added
            elif operation == "show":
                to_unicode, widths = line_maps[id(self._fonts[current])]
                for group in _HEX_GLYPHS.findall(value):
                    for start in range(0, len(group), 4):
                        glyph_id = int(group[start:start + 4], 16)
                        glyphs[current].append((glyph_id, to_unicode[glyph_id], widths[glyph_id]))
        return self._operations, [tuple(entries) for entries in glyphs]
