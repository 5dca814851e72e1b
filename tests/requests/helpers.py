"""Request-level helpers: read the rendered HTML, log in from a fresh browser, query the database."""
from html.parser import HTMLParser

from sqlalchemy import func, select

from blueprints.auth.models import Branch, Staff
from blueprints.home.demo import DEMO_PASSWORD
from blueprints.opening import progress
from blueprints.opening.models import Application, StatusChange
from core.extensions import db

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRIBUTES = {"href", "action", "src", "hx-get", "hx-post", "hx-put", "hx-delete", "hx-push-url", "formaction"}


class Page(HTMLParser):
    """The parts of a rendered page the tests look at: errors per field, form values, URLs."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self._stack: list[tuple[str, dict]] = []
        self._error_text: list[str] | None = None
        self._error_owners: list[str] = []
        self._option: dict | None = None
        self._select: str | None = None
        self.field_errors: list[tuple[list[str], str]] = []
        self.inputs: list[dict] = []
        self.selected: dict[str, list[str]] = {}
        self.urls: list[str] = []
        self.feed(html)
        self.close()

    # -- parsing
    def handle_starttag(self, tag, attrs):
        attributes = {name: (value if value is not None else "") for name, value in attrs}
        for name, value in attributes.items():
            if name in URL_ATTRIBUTES and value:
                self.urls.append(value)
        if tag == "input":
            self.inputs.append(attributes)
        if tag == "select":
            self._select = attributes.get("name")
            self.selected.setdefault(self._select, [])
        if tag == "option" and self._select is not None and "selected" in attributes:
            self.selected[self._select].append(attributes.get("value", ""))
        if tag == "p" and "field-error" in attributes.get("class", "").split():
            self._error_text = []
            self._error_owners = [a["id"] for _t, a in self._stack if a.get("id")]
        if tag not in VOID_TAGS:
            self._stack.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_endtag(self, tag):
        if tag == "p" and self._error_text is not None:
            self.field_errors.append((self._error_owners, "".join(self._error_text).strip()))
            self._error_text = None
        if tag == "select":
            self._select = None
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data):
        if self._error_text is not None:
            self._error_text.append(data)

    # -- queries
    def errors_for(self, field: str) -> list[str]:
        """Messages shown next to a form field (div#field-X) or a question (fieldset#question-X)."""
        owners = {f"field-{field}", f"question-{field}", field}
        return [message for ids, message in self.field_errors if ids and ids[-1] in owners]

    def all_errors(self) -> list[str]:
        return [message for _ids, message in self.field_errors]

    def value(self, name: str) -> str | None:
        """The value of a text-like input."""
        for attributes in self.inputs:
            if attributes.get("name") == name and attributes.get("type") not in ("radio", "checkbox"):
                return attributes.get("value")
        return None

    def checked(self, name: str) -> list[str]:
        """The values of the checked radio buttons / checkboxes called `name`."""
        return [a.get("value", "") for a in self.inputs
                if a.get("name") == name and a.get("type") in ("radio", "checkbox") and "checked" in a]

    def select_value(self, name: str) -> str | None:
        values = self.selected.get(name) or []
        return values[0] if values else None


def page_of(response) -> Page:
    return Page(response.get_data(as_text=True))


def login_as(app, username: str = "clerk", password: str = DEMO_PASSWORD):
    """Log in from a fresh test client (a new browser); return its Auth helper."""
    from tests.conftest import Auth

    auth = Auth(app.test_client())
    response = auth.login(username, password)
    assert response.status_code == 303, (username, response.status_code)
    return auth


def staff_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Staff.id).where(Staff.username == username))


def add_staff(app, username: str, role: str, branch_code: str = "0101", full_name: str = "陈柜员") -> int:
    """Create another staff member (same demo password) and return the id."""
    with app.app_context():
        template = db.session.scalar(select(Staff).where(Staff.username == "clerk"))
        branch = db.session.scalar(select(Branch).where(Branch.code == branch_code))
        staff = Staff(username=username, full_name=full_name, role=role, branch_id=branch.id,
                      password_hash=template.password_hash)
        db.session.add(staff)
        db.session.commit()
        return staff.id


def application_row(app, reference: str) -> dict:
    """A snapshot of one application's columns and completed steps."""
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        assert application is not None, reference
        return {
            "id": application.id,
            "status": str(application.status),
            # Before approval the status; after it, where the opening stands (accounts, return visit).
            "stage": progress.of_one(application).key,
            "customer_name": application.customer_name,
            "id_number": application.id_number,
            "completed": set(application.completed_steps),
            "steps": {step.step: step.data for step in application.steps},
            "created_by_id": application.created_by_id,
            "branch_id": application.branch_id,
        }


def count_applications(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Application))


def status_changes(app, reference: str) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(StatusChange.from_status, StatusChange.to_status, StatusChange.reason)
            .join(Application, Application.id == StatusChange.application_id)
            .where(Application.reference == reference)
            .order_by(StatusChange.id)
        ).all()
        return [tuple(row) for row in rows]
