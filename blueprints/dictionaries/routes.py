"""The dictionaries HQ administrators keep: list, add, edit, enable and disable entries."""
from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user

from blueprints.dictionaries import services
from blueprints.dictionaries.forms import EditEntryForm, NewEntryForm
from core import audit
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required

bp = Blueprint("dictionaries", __name__, url_prefix="/dictionaries")


@bp.app_template_global("dictionary_label")
def dictionary_label(kind: str, code: str | None, default: str = "—") -> str:
    """A stored code's label, disabled entries included (old records keep their meaning)."""
    return services.label(kind, code, default)


def _kind(kind: str) -> str:
    if kind not in services.KINDS:
        abort(404)
    return kind


def _list_page(kind: str, form: NewEntryForm, status: int = 200):
    return page("dictionaries/index.html", block="new_entry" if status != 200 else None, status=status, kind=kind,
                kinds=services.KINDS, entries=services.entries(kind), form=form)


@bp.route("/")
@roles_required(Role.HQ_ADMIN)
def index():
    """Open the first dictionary."""
    return see_other(url_for("dictionaries.listing", kind=next(iter(services.KINDS))))


@bp.route("/<kind>")
@roles_required(Role.HQ_ADMIN)
def listing(kind: str):
    """List one dictionary's entries, enabled and disabled, in their order."""
    kind = _kind(kind)
    audit.record("dictionary.list", "dictionary", kind)
    entries = services.entries(kind)
    form = NewEntryForm(formdata=None, data={"enabled": True, "position": (max((e.position for e in entries),
                                                                               default=0) + 10)})
    return _list_page(kind, form)


@bp.route("/<kind>/new", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def create(kind: str):
    """Add an entry to the dictionary."""
    kind = _kind(kind)
    form = NewEntryForm()
    if not form.validate():
        return _list_page(kind, form, status=422)
    try:
        entry = services.create(kind, services.EntryValues(form.code.data, form.label.data, form.position.data,
                                                           form.enabled.data), current_user)
    except services.DictionaryRefused as refused:
        getattr(form, refused.field).errors = list(getattr(form, refused.field).errors) + [str(refused)]
        return _list_page(kind, form, status=422)
    flash(f"已新增{services.KINDS[kind]}：{entry.label}（{entry.code}）", "success")
    return see_other(url_for("dictionaries.listing", kind=kind))


@bp.route("/entry/<int:entry_id>", methods=["GET", "POST"])
@roles_required(Role.HQ_ADMIN)
def edit(entry_id: int):
    """Change an entry's label, order or state; its code stays what records store."""
    entry = services.find(entry_id)
    if entry is None:
        abort(404)
    form = EditEntryForm() if request.method == "POST" else EditEntryForm(obj=entry)
    if request.method == "POST":
        if form.validate():
            try:
                changed = services.update(entry, services.EntryValues(entry.code, form.label.data,
                                                                      form.position.data, form.enabled.data),
                                          current_user)
            except services.DictionaryRefused as refused:
                form.label.errors = list(form.label.errors) + [str(refused)]
            else:
                flash(f"{services.KINDS[entry.kind]} {entry.code} 已保存" if changed else "没有任何修改", "success")
                return see_other(url_for("dictionaries.listing", kind=entry.kind))
        return page("dictionaries/edit.html", status=422, entry=entry, form=form, kinds=services.KINDS)
    return page("dictionaries/edit.html", entry=entry, form=form, kinds=services.KINDS)

