"""Everything a user can see is Chinese: templates, form labels, choices and messages."""
import importlib
import re
from pathlib import Path

import pytest
from wtforms.fields.core import UnboundField
from wtforms.i18n import messages_path

from core.forms import BaseForm, ChineseMeta, QueryForm

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FORM_MODULES = ("blueprints.accounts.forms", "blueprints.archive.forms", "blueprints.auth.forms",
                "blueprints.opening.forms", "blueprints.return_visit.forms", "blueprints.review.forms",
                "blueprints.reader.routes")
# Latin words a Chinese user of this product reads as they are: file formats, units, codes.
ALLOWED = {"PDF", "JPEG", "PNG", "JPG", "MB", "KB", "ID", "HK", "CSV", "SHA", "UTC", "IP", "ZIP", "Excel"}
WORD = re.compile(r"[A-Za-z][A-Za-z]+")
# The name of the file embedded in every dossier, which the archivist may need to find.
ALLOWED_PHRASES = ("record.json",)
# Not text: the attributes of the wizard's <form> tag, included inside the tag.
NOT_TEXT = {"opening/_form_open.html"}


def latin_words(text: str) -> set[str]:
    for phrase in ALLOWED_PHRASES:
        text = text.replace(phrase, " ")
    return {word for word in WORD.findall(text) if word not in ALLOWED}


def visible_text(source: str) -> str:
    """A template's text as a user sees it: no Jinja, no tags, no attributes, no scripts."""
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S | re.I)
    source = re.sub(r"<!--.*?-->", " ", source, flags=re.S)
    # Attributes users read (placeholder, title, alt, aria-label) are kept; the rest of a tag goes.
    readable = " ".join(re.findall(r'(?:placeholder|title|alt|aria-label)="([^"]*)"', source))
    source = re.sub(r"<[^>]*>", " ", source)
    source = re.sub(r"&[a-z]+;|&#\d+;", " ", source)
    return source + " " + readable


@pytest.mark.parametrize("path", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")
                                         if p.relative_to(TEMPLATES).as_posix() not in NOT_TEXT))
def test_templates_show_no_latin_words(path):
    found = latin_words(visible_text((TEMPLATES / path).read_text(encoding="utf-8")))
    assert not found, f"{path}: {sorted(found)}"


def _form_classes():
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, (BaseForm, QueryForm)) and value not in (BaseForm, QueryForm):
                yield value


def _texts_of(form_class):
    for name in dir(form_class):
        field = getattr(form_class, name, None)
        if not isinstance(field, UnboundField):
            continue
        label = field.args[0] if field.args else field.kwargs.get("label")
        if isinstance(label, str):
            yield name, label
        for choice in field.kwargs.get("choices") or []:
            text = getattr(choice, "label", None) or (choice[1] if isinstance(choice, tuple) else None)
            if isinstance(text, str):
                yield name, text
        for validator in field.kwargs.get("validators") or []:
            message = getattr(validator, "message", None)
            if isinstance(message, str):
                yield name, message


@pytest.mark.parametrize("form_class", sorted(set(_form_classes()), key=lambda c: c.__qualname__),
                         ids=lambda c: c.__qualname__)
def test_form_labels_choices_and_messages_are_chinese(form_class):
    found = {(name, text) for name, text in _texts_of(form_class) if latin_words(text)}
    assert not found, sorted(found)


def _builtin_messages() -> list[tuple[str, str | None]]:
    """WTForms' own messages from its catalogue template: (singular, plural or None)."""
    pot = (Path(messages_path()) / "wtforms.pot").read_text()
    entries = re.findall(r'^msgid "(.+)"\n(?:msgid_plural "(.+)"\n)?', pot, re.M)
    return [(re.sub(r"\\(.)", r"\1", one), re.sub(r"\\(.)", r"\1", many) if many else None) for one, many in entries]


@pytest.mark.parametrize("singular, plural", _builtin_messages())
def test_wtforms_own_messages_come_out_in_chinese(singular, plural):
    translations = ChineseMeta().get_translations(None)
    translated = translations.ngettext(singular, plural, 5) if plural else translations.gettext(singular)
    assert not latin_words(re.sub(r"%\(\w+\)[sd]", "", translated)), (singular, translated)
