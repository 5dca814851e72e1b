"""Each terminal (柜台电脑或平板) gets only the card reads of the reader paired with it."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from blueprints.opening.models import Application
from blueprints.reader import services
from blueprints.reader.models import CardRead, ReaderDevice, Terminal
from core.extensions import db
from core.models import AuditEvent
from tests import factories
from tests.conftest import Auth
from tests.reader.support import (CARD, OTHER_CARD, OTHER_ID, filled_read_id, pair_reader, pair_terminal,
                                  post_read, press_card_button)


@pytest.fixture
def admin(app):
    admin = Auth(app.test_client())
    admin.login("admin")
    return admin


@pytest.fixture
def tablet(app):
    """A logged-in staff member at a browser of their own (own cookie jar: own terminal)."""
    def open_tablet(username: str = "clerk") -> Auth:
        auth = Auth(app.test_client())
        auth.login(username)
        return auth
    return open_tablet


@pytest.fixture
def two_tablets(app, admin, tablet):
    """Two tablets of one branch, each paired with its own reader; each has a draft at the identity step."""
    reader_a, reader_b = pair_reader(app, admin, "平板读卡器A"), pair_reader(app, admin, "平板读卡器B")
    a, b = tablet("clerk"), tablet("witness")
    pair_terminal(a, reader_a, "平板1号")
    pair_terminal(b, reader_b, "平板2号")
    return (a, reader_a, factories.start(a, token="tablet-a")), (b, reader_b, factories.start(b, token="tablet-b"))


def actions(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events


def saved_identity(app, reference: str) -> dict:
    with app.app_context():
        return db.session.scalar(select(Application).where(Application.reference == reference)).step_data("identity")


def test_each_tablet_gets_only_its_own_readers_card(client, two_tablets):
    (a, reader_a, ref_a), (b, reader_b, ref_b) = two_tablets
    poll_a, poll_b = press_card_button(a, ref_a), press_card_button(b, ref_b)

    # B's card arrives first, then A's: the newest read of the branch is A's.
    post_read(client, reader_b, OTHER_CARD)
    post_read(client, reader_a, CARD)

    filled_a, filled_b = a.get(poll_a, htmx=True), b.get(poll_b, htmx=True)
    assert filled_a.headers["HX-Retarget"] == "#wizard" and filled_b.headers["HX-Retarget"] == "#wizard"
    page_a, page_b = filled_a.get_data(as_text=True), filled_b.get_data(as_text=True)
    assert 'value="刘晓明"' in page_a and "陈志强" not in page_a and "平板读卡器A" in page_a
    assert 'value="陈志强"' in page_b and "刘晓明" not in page_b and "平板读卡器B" in page_b


def test_a_read_from_before_the_button_was_pressed_does_not_fill(client, two_tablets):
    (a, reader_a, ref_a), _ = two_tablets
    post_read(client, reader_a)
    time.sleep(0.01)
    body = a.get(press_card_button(a, ref_a), htmx=True).get_data(as_text=True)
    assert "正在等待读卡" in body


def test_a_forged_since_does_not_reach_back_past_the_freshness_window(app, client, two_tablets):
    (a, reader_a, ref_a), _ = two_tablets
    read_id = post_read(client, reader_a)
    with app.app_context():
        db.session.get(CardRead, read_id).read_at -= services.READ_FRESHNESS + timedelta(seconds=5)
        db.session.commit()
    body = a.get(f"/opening/{ref_a}/card?since=0", htmx=True).get_data(as_text=True)
    assert 'name="card_read_id"' not in body


def test_a_read_id_from_the_other_tablets_reader_is_ignored_when_saving(app, client, two_tablets):
    (a, reader_a, ref_a), (b, reader_b, ref_b) = two_tablets
    poll_b = press_card_button(b, ref_b)
    post_read(client, reader_b, OTHER_CARD)
    other_read = filled_read_id(b.get(poll_b, htmx=True))
    assert other_read

    # Tablet A types its customer's data but names the other tablet's read.
    data = factories.identity(valid_to=None, valid_long_term="y", card_read_id=str(other_read))
    assert a.post(factories.step_url(ref_a, "identity"), data).status_code == 303

    saved = saved_identity(app, ref_a)
    assert "card_read_id" not in saved and "card_fields" not in saved
    with app.app_context():
        assert db.session.get(CardRead, other_read).used_by_application_id is None
    # The read is still there for the tablet it belongs to.
    data = factories.identity(id_number=OTHER_ID, name="陈志强", birth_date="1990-03-07", valid_to=None,
                              valid_long_term="y", address=OTHER_CARD["address"], card_read_id=str(other_read))
    assert b.post(factories.step_url(ref_b, "identity"), data).status_code == 303
    assert saved_identity(app, ref_b)["card_read_id"] == other_read


def test_a_tablet_without_a_reader_is_told_to_pair_one(app, client, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    paired, unpaired = tablet("witness"), tablet("clerk")
    pair_terminal(paired, reader)
    reference = factories.start(unpaired)
    post_read(client, reader)

    response = unpaired.get(f"/opening/{reference}/card", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    # Only the status line is swapped: the typed form stays as it is.
    assert "HX-Retarget" not in response.headers and 'id="card-status"' in body and "<form" not in body
    assert "本机未绑定读卡器" in body and "刘晓明" not in body
    assert f'href="/reader/terminal?next=/opening/{reference}/step/identity"' in body
    assert "hx-trigger" not in body  # no polling while nothing can arrive

    page = unpaired.get(f"/reader/terminal?next=/opening/{reference}/step/identity").get_data(as_text=True)
    assert "本机尚未绑定读卡器" in page and f'href="/opening/{reference}/step/identity"' in page
    assert "柜台1号读卡器" in page and "现绑定于“平板1号”" in page


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"])
def test_the_pairing_page_returns_only_to_this_sites_pages(app, admin, tablet, next_url):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    assert "evil" not in clerk.get("/reader/terminal", query_string={"next": next_url}).get_data(as_text=True)
    response = clerk.post("/reader/terminal", {"label": "柜台1号机", "device": str(reader.id), "next": next_url})
    assert response.status_code == 303 and response.headers["Location"] == "/reader/terminal"


def test_pairing_returns_to_the_identity_step_and_sets_a_terminal_cookie(app, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    reference = factories.start(clerk)
    response = clerk.post("/reader/terminal", {"label": "柜台1号机", "device": str(reader.id),
                                               "next": f"/opening/{reference}/step/identity"})
    assert response.status_code == 303 and response.headers["Location"] == f"/opening/{reference}/step/identity"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(services.TERMINAL_COOKIE + "="))
    token = cookie.split(";")[0].split("=", 1)[1]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie and "Max-Age=" in cookie
    with app.app_context():
        terminal = db.session.scalar(select(Terminal))
        assert terminal.token_hash != token and token not in terminal.token_hash and len(terminal.token_hash) == 64
        assert (terminal.label, terminal.device.device_id) == ("柜台1号机", reader.device_id)
    assert [e.detail["device"] for e in actions(app, "reader.terminal_pair")] == [reader.device_id]
    assert actions(app, "reader.terminal_register")[0].actor_name == "clerk"
    assert "正在等待读卡" in clerk.get(f"/opening/{reference}/card", htmx=True).get_data(as_text=True)


def test_the_terminal_cookie_is_secure_when_the_session_cookie_is(app, admin, tablet, monkeypatch):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    clerk.get("/reader/terminal")
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    response = clerk.post("/reader/terminal", {"label": "柜台1号机", "device": str(reader.id)})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(services.TERMINAL_COOKIE + "="))
    assert "Secure" in cookie


def test_pairing_a_reader_at_another_tablet_moves_it(app, client, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    first, second = tablet("clerk"), tablet("witness")
    pair_terminal(first, reader, "平板1号")
    ref_first, ref_second = factories.start(first, token="t-1"), factories.start(second, token="t-2")
    poll_first = press_card_button(first, ref_first)
    early = post_read(client, reader)  # posted while the reader served the first tablet

    pair_terminal(second, reader, "平板2号")

    assert "本机未绑定读卡器" in first.get(poll_first, htmx=True).get_data(as_text=True)
    poll_second = press_card_button(second, ref_second)
    assert "正在等待读卡" in second.get(poll_second, htmx=True).get_data(as_text=True)
    data = factories.identity(valid_to=None, valid_long_term="y", card_read_id=str(early))
    assert second.post(factories.step_url(ref_second, "identity"), data).status_code == 303
    assert "card_read_id" not in saved_identity(app, ref_second)  # the early read was the first tablet's
    post_read(client, reader, OTHER_CARD)
    assert 'value="陈志强"' in second.get(poll_second, htmx=True).get_data(as_text=True)

    with app.app_context():
        terminals = {t.label: t.device_id for t in db.session.scalars(select(Terminal))}
    assert terminals == {"平板1号": None, "平板2号": reader.id}
    unpaired = actions(app, "reader.terminal_unpair")
    assert [(e.detail["device"], e.detail["reason"], e.actor_name) for e in unpaired] == [(reader.device_id, "moved", "witness")]
    moved = actions(app, "reader.terminal_pair")[-1]
    assert moved.detail["from_terminal_id"] == int(unpaired[0].object_id)
    devices_page = admin.get("/reader/devices").get_data(as_text=True)
    assert "平板2号" in devices_page and "平板1号" not in devices_page


def test_changing_a_terminals_reader_frees_the_old_one(app, admin, tablet):
    old, new = pair_reader(app, admin, "旧读卡器"), pair_reader(app, admin, "新读卡器")
    clerk = tablet()
    pair_terminal(clerk, old)
    pair_terminal(clerk, new)
    with app.app_context():
        assert db.session.get(ReaderDevice, old.id).terminal is None
        assert db.session.get(ReaderDevice, new.id).terminal.label == "平板1号"
    assert actions(app, "reader.terminal_pair")[-1].detail["previous_device"] == old.device_id


def test_a_revoked_readers_reads_are_never_used(app, client, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    pair_terminal(clerk, reader)
    reference = factories.start(clerk)
    poll = press_card_button(clerk, reference)
    post_read(client, reader)
    read_id = filled_read_id(clerk.get(poll, htmx=True))
    assert read_id

    assert admin.post(f"/reader/devices/{reader.id}/revoke").status_code == 303

    assert "本机未绑定读卡器" in clerk.get(poll, htmx=True).get_data(as_text=True)
    data = factories.identity(valid_to=None, valid_long_term="y", card_read_id=str(read_id))
    assert clerk.post(factories.step_url(reference, "identity"), data).status_code == 303
    assert "card_read_id" not in saved_identity(app, reference)
    page = clerk.get("/reader/terminal").get_data(as_text=True)
    assert 'name="device"' not in page and "暂无可用的读卡器" in page and "<dd>未绑定</dd>" in page
    assert [e.detail["reason"] for e in actions(app, "reader.terminal_unpair")] == ["revoked"]
    # Pairing it anyway (a stale page) is refused next to the field.
    response = clerk.post("/reader/terminal", {"label": "柜台1号机", "device": str(reader.id)})
    assert response.status_code == 422 and "该读卡器不属于本营业部或已吊销" in response.get_data(as_text=True)


@pytest.mark.parametrize("form, message", [
    ({"label": "", "device": "READER"}, "请填写本机名称"),
    ({"label": "柜" * 61, "device": "READER"}, "本机名称不能超过60个字"),
    ({"label": "柜台1号机"}, "请选择要绑定到本机的读卡器"),
    ({"label": "柜台1号机", "device": "abc"}, "请选择要绑定到本机的读卡器"),
    ({"label": "柜台1号机", "device": "999999"}, "该读卡器不属于本营业部或已吊销"),
])
def test_bad_pairing_input_is_refused_next_to_the_field(app, admin, tablet, form, message):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    clerk.get("/reader/terminal")
    response = clerk.post("/reader/terminal", {k: str(reader.id) if v == "READER" else v for k, v in form.items()})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and f'<p class="field-error" role="alert">{message}' in body
    with app.app_context():
        assert db.session.scalar(select(Terminal)) is None


def test_pairing_needs_the_csrf_token(app, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    response = clerk.client.post("/reader/terminal", data={"label": "柜台1号机", "device": str(reader.id)})
    assert response.status_code == 400


def test_staff_pair_only_their_own_branchs_readers(app, admin, tablet):
    beijing = pair_reader(app, admin, "朝阳门读卡器")
    shanghai = tablet("clerk_sh")
    page = shanghai.get("/reader/terminal").get_data(as_text=True)
    assert "朝阳门读卡器" not in page
    response = shanghai.post("/reader/terminal", {"label": "浦东平板", "device": str(beijing.id)})
    assert response.status_code == 422 and "该读卡器不属于本营业部或已吊销" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["admin", "reviewer", "manager", "marketing"])
def test_only_opening_staff_pair_their_terminal(tablet, username):
    other = tablet(username)
    assert other.get("/reader/terminal").status_code == 403
    assert other.post("/reader/terminal", {"label": "x", "device": "1"}).status_code == 403
    assert other.post("/reader/terminal/unpair").status_code == 403


def test_branch_staff_cannot_unpair_at_the_devices_page(app, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    pair_terminal(clerk, reader)
    assert clerk.post(f"/reader/devices/{reader.id}/unpair").status_code == 403
    with app.app_context():
        assert db.session.get(ReaderDevice, reader.id).terminal is not None


def test_hq_sees_every_pairing_and_can_unpair(app, admin, tablet):
    beijing, shanghai = pair_reader(app, admin, "朝阳门读卡器"), pair_reader(app, admin, "浦东读卡器", "0201")
    clerk, clerk_sh = tablet("clerk"), tablet("clerk_sh")
    pair_terminal(clerk, beijing, "朝阳门柜台1号")
    pair_terminal(clerk_sh, shanghai, "浦东平板1号")
    reference = factories.start(clerk)

    page = admin.get("/reader/devices").get_data(as_text=True)
    assert "朝阳门柜台1号" in page and "浦东平板1号" in page

    assert admin.post(f"/reader/devices/{beijing.id}/unpair").status_code == 303
    assert "本机未绑定读卡器" in clerk.get(f"/opening/{reference}/card", htmx=True).get_data(as_text=True)
    event = actions(app, "reader.terminal_unpair")[-1]
    assert (event.actor_name, event.detail["device"]) == ("admin", beijing.device_id)
    assert "浦东平板1号" in admin.get("/reader/devices").get_data(as_text=True)


def test_staff_unpair_their_own_terminal(app, admin, tablet):
    reader = pair_reader(app, admin, "柜台1号读卡器")
    clerk = tablet()
    pair_terminal(clerk, reader)
    assert "解除本机绑定" in clerk.get("/reader/terminal").get_data(as_text=True)
    assert clerk.post("/reader/terminal/unpair").status_code == 303
    with app.app_context():
        assert db.session.get(ReaderDevice, reader.id).terminal is None
    assert actions(app, "reader.terminal_unpair")[-1].actor_name == "clerk"


def test_another_branchs_staff_at_a_terminal_get_nothing_from_its_reader(app, client, admin, tablet):
    reader = pair_reader(app, admin, "朝阳门读卡器")
    clerk = tablet("clerk")
    pair_terminal(clerk, reader, "朝阳门平板")
    # The same browser, now logged in by a Shanghai clerk.
    clerk.client.post("/auth/logout", headers={"X-CSRFToken": clerk.token})
    clerk.login("clerk_sh")
    reference = factories.start(clerk, token="sh-1")
    post_read(client, reader)
    body = clerk.get(f"/opening/{reference}/card?since={time.time() - 5}", htmx=True).get_data(as_text=True)
    assert "本机未绑定读卡器" in body and "刘晓明" not in body
    page = clerk.get("/reader/terminal").get_data(as_text=True)
    assert "本机原登记为“朝阳门平板”" in page and "朝阳门读卡器" not in page
