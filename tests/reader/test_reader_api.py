"""Paired readers post signed card reads; the identity step fills from them."""
import json
import re
import time

import pytest
from sqlalchemy import func, select, text

from blueprints.auth.models import Staff
from blueprints.reader import services
from blueprints.reader.models import CardRead, ReaderDevice
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.conftest import Auth
from tests.reader.support import CARD, Reader, pair_terminal

@pytest.fixture
def device(app):
    """Pair a reader with the demo branch through the admin page; return (device_id, secret)."""
    admin = Auth(app.test_client())
    admin.login("admin")
    with app.app_context():
        branch_id = db.session.scalar(select(Staff.branch_id).where(Staff.username == "clerk"))
    page = admin.post("/reader/devices", {"branch_id": str(branch_id), "label": "柜台1号读卡器"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    device_id = re.search(r"<strong>(RD-[0-9A-F]+)</strong>", body).group(1)
    secret = re.search(r"<pre>([^<]+)</pre>", body).group(1)
    assert admin.get("/reader/devices").get_data(as_text=True).count(secret) == 0  # shown once only
    return device_id, secret


def post(client, device_id, secret, fields=CARD, timestamp=None, signature=None, body=None):
    body = body if body is not None else json.dumps({"device_id": device_id, "fields": fields,
                                                      "photo_raw": "V0xUZmFrZQ=="}).encode()
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    if signature is None:
        signature = services.signature_for(secret, timestamp, body) if timestamp.isdigit() else "0" * 64
    return client.post("/api/reader/reads", data=body, content_type="application/json", headers={
        "X-Reader-Device": device_id, "X-Reader-Timestamp": timestamp, "X-Reader-Signature": signature})


def refusals(app):
    with app.app_context():
        return [e.detail["reason"] for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "reader.refused").order_by(AuditEvent.id))]


def test_a_signed_read_is_stored_encrypted(app, client, device):
    response = post(client, *device)
    assert response.status_code == 201
    with app.app_context():
        read = db.session.get(CardRead, response.get_json()["id"])
        assert read.fields["name"] == "刘晓明"
        raw = db.session.execute(text("SELECT fields FROM card_read")).scalar()
        assert "刘晓明" not in raw and factories.CUSTOMER_ID not in raw


@pytest.mark.parametrize("change, reason", [
    (lambda d, s: dict(device_id="RD-UNKNOWN", secret=s), "unknown device"),
    (lambda d, s: dict(device_id=d, secret="wrong-secret"), "bad signature"),
    (lambda d, s: dict(device_id=d, secret=s, timestamp=str(int(time.time()) - 600)), "stale timestamp"),
    (lambda d, s: dict(device_id=d, secret=s, timestamp="yesterday"), "bad timestamp"),
])
def test_bad_posts_are_refused_with_401_and_logged(app, client, device, change, reason):
    response = post(client, **change(*device))
    assert response.status_code == 401 and response.get_json() == {"error": "unauthorized"}
    assert refusals(app) == [reason]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CardRead)) == 0


@pytest.mark.parametrize("body", [
    b"not json",
    b"[]",
    json.dumps({"fields": "刘晓明"}).encode(),
    json.dumps({"fields": dict(CARD, card_type=["resident_id"])}).encode(),
    json.dumps({"fields": dict(CARD, name="刘\x00晓明")}).encode(),
    json.dumps({"fields": dict(CARD, address="\ud800")}).encode(),
    json.dumps({"fields": dict(CARD, unexpected="x")}).encode(),
    json.dumps({"fields": CARD, "photo_raw": {"wlt": 1}}).encode(),
])
def test_a_signed_post_with_malformed_card_data_is_refused_with_what_is_wrong_and_logged(app, client, device, body):
    response = post(client, *device, body=body)
    assert response.status_code == 422 and response.get_json()["error"] == "malformed"
    assert response.get_json()["message"]
    assert refusals(app) == ["malformed body"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CardRead)) == 0


def test_a_replayed_post_is_refused(app, client, device):
    body = json.dumps({"fields": CARD}).encode()
    timestamp = str(int(time.time()))
    assert post(client, *device, body=body, timestamp=timestamp).status_code == 201
    assert post(client, *device, body=body, timestamp=timestamp).status_code == 401
    assert refusals(app) == ["replayed post"]


def test_a_revoked_reader_is_refused(app, client, device):
    admin = Auth(app.test_client())
    admin.login("admin")
    with app.app_context():
        row_id = db.session.scalar(select(ReaderDevice.id).where(ReaderDevice.device_id == device[0]))
    assert admin.post(f"/reader/devices/{row_id}/revoke").status_code == 303
    assert post(client, *device).status_code == 401
    assert refusals(app) == ["revoked device"]


def test_only_hq_pairs_readers(app):
    clerk = Auth(app.test_client())
    clerk.login()
    assert clerk.get("/reader/devices").status_code == 403


def _reader(app, device) -> Reader:
    with app.app_context():
        return Reader(*device, db.session.scalar(select(ReaderDevice.id).where(ReaderDevice.device_id == device[0])))


def test_the_card_button_waits_then_fills_the_identity_step(app, auth, client, device):
    auth.login()
    pair_terminal(auth, _reader(app, device))
    reference = factories.start(auth)
    waiting = auth.get(f"/opening/{reference}/card", htmx=True)
    body = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and 'hx-trigger="load delay:1s"' in body and "正在等待读卡" in body
    poll_url = re.search(r'hx-get="([^"]+since=[^"]+)"', body).group(1).replace("&amp;", "&")

    assert post(client, *device).status_code == 201
    filled = auth.get(poll_url, htmx=True)

    assert filled.headers["HX-Retarget"] == "#wizard"
    page = filled.get_data(as_text=True)
    assert 'value="刘晓明"' in page and "已从读卡器" in page and 'name="card_read_id"' in page
    read_id = re.search(r'name="card_read_id" value="(\d+)"', page).group(1)

    data = factories.identity(valid_to=None)
    data.update(valid_long_term="y", card_read_id=read_id, address="北京市朝阳区建国路88号院3号楼1202")  # one field changed
    assert auth.post(factories.step_url(reference, "identity"), data).status_code == 303
    with app.app_context():
        from blueprints.opening.models import Application
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        saved = application.step_data("identity")
        assert "address" not in saved["card_fields"]
        assert {"name", "id_number", "birth_date", "sex", "valid_long_term"} <= set(saved["card_fields"])
        assert db.session.get(CardRead, int(read_id)).used_by_application_id == application.id


def test_the_card_wait_gives_up_after_a_minute(app, auth, device):
    auth.login()
    pair_terminal(auth, _reader(app, device))
    reference = factories.start(auth)
    response = auth.get(f"/opening/{reference}/card?since={time.time() - 61}", htmx=True)
    body = response.get_data(as_text=True)
    assert "60 秒内未收到读卡数据" in body and "load delay" not in body


def test_another_branchs_reads_do_not_fill_this_branchs_step(app, client, device):
    assert post(client, *device).status_code == 201
    admin = Auth(app.test_client())
    admin.login("admin")
    with app.app_context():
        shanghai = db.session.scalar(select(Staff.branch_id).where(Staff.username == "clerk_sh"))
    body = admin.post("/reader/devices", {"branch_id": str(shanghai), "label": "浦东读卡器"}).get_data(as_text=True)
    other = Auth(app.test_client())
    other.login("clerk_sh")
    pair_terminal(other, _reader(app, (re.search(r"<strong>(RD-[0-9A-F]+)</strong>", body).group(1), "")))
    reference = factories.start(other, token="sh-1")
    body = other.get(f"/opening/{reference}/card?since={time.time() - 5}", htmx=True).get_data(as_text=True)
    assert "正在等待读卡" in body


@pytest.mark.parametrize("card_type, id_type", [
    ("resident_id", "resident_id"), ("hmt_residence_permit", "hmt_residence_permit"),
    ("foreign_permanent_residence", "foreign_permanent_residence"), ("J", "hmt_residence_permit"), (None, "resident_id"),
])
def test_the_card_type_decides_the_id_type(card_type, id_type):
    read = CardRead(fields=dict(CARD, card_type=card_type))
    assert services.identity_values(read)["id_type"] == id_type
