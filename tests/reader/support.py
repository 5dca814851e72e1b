"""Helpers for reader tests: pair readers as HQ, pair terminals as branch staff, post signed reads."""
import json
import re
import time
from dataclasses import dataclass

from sqlalchemy import select

from blueprints.auth.models import Branch
from blueprints.reader import services
from blueprints.reader.models import ReaderDevice
from core.extensions import db
from tests import factories

CARD = {"card_type": None, "name": "刘晓明", "name_en": None, "sex": "M", "ethnicity": "汉族",
        "birth_date": "1988-06-12", "address": "北京市朝阳区建国路88号院3号楼1201",
        "id_number": factories.CUSTOMER_ID, "authority": "北京市公安局朝阳分局", "valid_from": "2019-05-20",
        "valid_to": "长期", "nationality": None, "pass_number": None, "issue_count": None}
OTHER_ID = factories.make_id("110105", "19900307", "151")
OTHER_CARD = dict(CARD, name="陈志强", id_number=OTHER_ID, birth_date="1990-03-07",
                  address="北京市朝阳区东三环北路5号院2号楼602")


@dataclass(frozen=True)
class Reader:
    device_id: str
    secret: str
    id: int


def pair_reader(app, admin, label: str, branch_code: str = "0101") -> Reader:
    """Pair a reader with a branch through the HQ devices page (admin is a logged-in Auth)."""
    with app.app_context():
        branch_id = db.session.scalar(select(Branch.id).where(Branch.code == branch_code))
    page = admin.post("/reader/devices", {"branch_id": str(branch_id), "label": label})
    assert page.status_code == 200, page.get_data(as_text=True)
    body = page.get_data(as_text=True)
    device_id = re.search(r"<strong>(RD-[0-9A-F]+)</strong>", body).group(1)
    secret = re.search(r"<pre>([^<]+)</pre>", body).group(1)
    with app.app_context():
        row_id = db.session.scalar(select(ReaderDevice.id).where(ReaderDevice.device_id == device_id))
    return Reader(device_id, secret, row_id)


def pair_terminal(auth, reader: Reader, label: str = "平板1号", expect: int = 303):
    """Pair the browser of `auth` (its own cookie jar) with a reader on the 本机读卡器 page."""
    assert auth.get("/reader/terminal").status_code == 200
    response = auth.post("/reader/terminal", {"label": label, "device": str(reader.id)})
    assert response.status_code == expect, response.get_data(as_text=True)
    return response


def post_read(client, reader: Reader, fields=CARD):
    body = json.dumps({"device_id": reader.device_id, "fields": fields, "photo_raw": "V0xUZmFrZQ=="}).encode()
    timestamp = str(int(time.time()))
    response = client.post("/api/reader/reads", data=body, content_type="application/json", headers={
        "X-Reader-Device": reader.device_id, "X-Reader-Timestamp": timestamp,
        "X-Reader-Signature": services.signature_for(reader.secret, timestamp, body)})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def press_card_button(auth, reference: str) -> str:
    """Press 读卡: return the poll URL the waiting fragment carries."""
    body = auth.get(f"/opening/{reference}/card", htmx=True).get_data(as_text=True)
    assert "正在等待读卡" in body, body
    return re.search(r'hx-get="([^"]+since=[^"]+)"', body).group(1).replace("&amp;", "&")


def filled_read_id(response) -> int | None:
    match = re.search(r'name="card_read_id" value="(\d+)"', response.get_data(as_text=True))
    return int(match.group(1)) if match else None
