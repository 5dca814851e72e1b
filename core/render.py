"""One place that decides between a full page and an htmx fragment."""
from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


def page(template: str, block: str | None = None, status: int = 200, push_url: str | None = None, **context):
    """Render the whole page, or only `block` when htmx asked for a fragment.

    Going back to a pushed URL whose snapshot is not cached (historyCacheSize is 0) makes htmx ask
    again with HX-History-Restore-Request and put the answer in place of the body: the whole page.
    """
    restoring = request.headers.get("HX-History-Restore-Request") == "true"
    if block and request.htmx and not request.htmx.boosted and not restoring:
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.headers["Vary"] = "HX-Request"
    if push_url and request.htmx:
        response.headers["HX-Push-Url"] = push_url
    return response


def error_response(status: int, title: str, message: str):
    """An error page; for htmx a banner swapped into #flash, so no whole page lands in a panel."""
    if request.htmx:
        response = make_response(render_template("errors/_banner.html", title=title, message=message), status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(render_template("errors/error.html", status=status, title=title, message=message), status)
    response.headers["Vary"] = "HX-Request"
    return response


def see_other(location: str):
    """Redirect after a POST: HX-Redirect for htmx, 303 for a plain form."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def in_place(response, selector: str):
    """Make htmx swap an error answer (403, 409) where the form was, not into the flash area."""
    if request.htmx:
        response.headers["HX-Retarget"] = selector
        response.headers["HX-Reswap"] = "outerHTML"
    return response
