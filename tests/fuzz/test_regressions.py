"""What the fuzzing found, each pinned by one request: the input, and the 4xx with its message it now gets."""
import io
import json

from sqlalchemy import func, select

from blueprints.customers.models import Customer
from core.extensions import db
from tests.requests.helpers import page_of


def _customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


def test_a_file_posted_under_a_text_fields_name_is_refused_next_to_the_field_not_a_500(app, auth):
    auth.login("clerk")
    before = _customers(app)
    response = auth.post("/prospects/new", data={
        "name": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "scan.png", "image/png"), "id_type": "resident_id",
        "id_number": "110105198806123150", "source": "walk_in"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert page_of(response).errors_for("name"), "the name field gets its message"
    assert _customers(app) == before


def test_a_json_body_posted_to_a_form_is_refused_as_an_empty_form_not_a_500(app, auth):
    auth.login("clerk")
    before = _customers(app)
    for document in ([1, 2], 7, "name", {"name": ["刘晓明"]}):
        response = auth.post("/prospects/new", data=json.dumps(document), content_type="application/json")
        assert response.status_code == 422, document
        assert page_of(response).errors_for("name"), document
    assert _customers(app) == before


def test_a_reader_post_whose_signature_is_not_ascii_is_refused_with_401_not_a_500(app):
    import time

    from blueprints.reader.models import CardRead
    from tests.fuzz.world import World

    reader = World(app).reader
    response = app.test_client().post("/api/reader/reads", data=b"{}", content_type="application/json", headers={
        "X-Reader-Device": reader.device_id, "X-Reader-Timestamp": str(int(time.time())), "X-Reader-Signature": "\x80" * 64})
    assert response.status_code == 401 and response.get_json() == {"error": "unauthorized"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CardRead)) == 0


def test_a_nul_character_anywhere_in_a_request_is_refused_before_it_reaches_the_database(app, auth):
    # PostgreSQL refuses NUL in any text value: each of these was a 500 there (and on SQLite the prospect was saved).
    auth.login("clerk")
    before = _customers(app)
    response = auth.post("/prospects/new", data={"name": "刘\x00晓明", "id_type": "resident_id",
                                                 "id_number": "110105198806123150", "source": "walk_in"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    assert auth.get("/customers/C0101%00").status_code == 400
    assert auth.get("/customers/", query_string={"q": "\x00"}).status_code == 400
    upload = auth.post("/prospects/new", data={"name": "刘晓明", "scan": (io.BytesIO(b"x"), "a\x00.png")},
                       content_type="multipart/form-data")
    assert upload.status_code == 400
    admin = auth.__class__(app.test_client())
    admin.login("admin")
    assert admin.post("/grading/recompute/customer", data={"customer_no": "\x00" * 65}).status_code == 400
    assert _customers(app) == before


def test_a_reader_post_sent_as_a_form_is_refused_as_unsigned_not_parsed_as_a_form(app):
    response = app.test_client().post("/api/reader/reads", data=b"=\x00", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401 and response.get_json() == {"error": "unauthorized"}
