"""Two tablets of one branch, each with its own reader: each card fills only its own tablet's form."""
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from blueprints.reader import services as reader_services
from blueprints.reader.models import CardRead
from core.extensions import db
from reader_agent.agent import Poster
from tests import factories
from tests.e2e.test_opening_wizard import login, save

pytestmark = pytest.mark.e2e

OTHER_ID = factories.make_id("110105", "19900307", "151")
CARDS = {
    "witness": dict(factories.identity(valid_to=None), card_type="resident_id", valid_to="长期"),
    "witness2": dict(factories.identity(valid_to=None, id_number=OTHER_ID, name="陈志强", birth_date="1990-03-07",
                                        address="北京市朝阳区东三环北路5号院2号楼602"),
                     card_type="resident_id", valid_to="2040-03-07"),
}


@pytest.fixture
def branch_readers(app):
    """Two readers paired with the demo branch by HQ: label → (device id, secret)."""
    with app.app_context():
        admin = db.session.scalar(select(Staff).where(Staff.username == "admin"))
        branch_id = db.session.scalar(select(Staff.branch_id).where(Staff.username == "witness"))
        readers = {}
        for label in ("平板读卡器甲", "平板读卡器乙"):
            device, secret = reader_services.pair_device(branch_id, label, admin)
            readers[label] = (device.device_id, secret)
        db.session.commit()
    return readers


def open_tablet(new_context, username: str, errors: list) -> Page:
    page = new_context().new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, username)
    return page


def pair_this_tablet(page: Page, tablet_label: str, reader_label: str) -> None:
    """Start a witness opening, press 读卡, follow the unpaired message to 本机读卡器 and pair."""
    page.get_by_role("link", name="新建见证开户").click()
    save(page, "identity")
    page.get_by_role("button", name="读卡").tap()
    expect(page.locator("#card-status")).to_contain_text("本机未绑定读卡器")
    page.locator("#pair-reader").tap()
    expect(page.locator("h1")).to_have_text("本机读卡器")
    page.fill("#label", tablet_label)
    page.locator("#field-device label", has_text=reader_label).locator("input").check()
    page.get_by_role("button", name="绑定到本机").tap()
    expect(page.locator("#step-panel")).to_have_attribute("data-step", "identity")
    expect(page.locator("#flash")).to_contain_text(f"本机已绑定读卡器：{reader_label}")


def post_card(live_server: str, reader: tuple[str, str], card: dict) -> None:
    device_id, secret = reader
    fields = {key: card.get(key) for key in ("card_type", "name", "sex", "ethnicity", "birth_date", "address",
                                              "id_number", "authority", "valid_from", "valid_to")}
    Poster(live_server, device_id, secret).post({"device_id": device_id, "fields": fields, "photo_raw": None})


@pytest.mark.parametrize("viewport", ["tablet"], indirect=True)
def test_two_tablets_of_one_branch_each_fill_from_their_own_reader(app, new_context, live_server, branch_readers):
    errors = []
    first, second = open_tablet(new_context, "witness", errors), open_tablet(new_context, "witness2", errors)
    pair_this_tablet(first, "见证平板1号", "平板读卡器甲")
    pair_this_tablet(second, "见证平板2号", "平板读卡器乙")

    # Both wait for a card; the second tablet's card is read first, then the first's.
    for tablet in (first, second):
        tablet.get_by_role("button", name="读卡").tap()
        expect(tablet.locator("#card-status")).to_contain_text("正在等待读卡")
    post_card(live_server, branch_readers["平板读卡器乙"], CARDS["witness2"])
    post_card(live_server, branch_readers["平板读卡器甲"], CARDS["witness"])

    for tablet, username, reader_label in ((first, "witness", "平板读卡器甲"), (second, "witness2", "平板读卡器乙")):
        expect(tablet.locator("#card-filled")).to_be_visible(timeout=10_000)
        expect(tablet.locator("#card-filled")).to_contain_text(reader_label)
        expect(tablet.locator("#name")).to_have_value(CARDS[username]["name"])
        expect(tablet.locator("#id_number")).to_have_value(CARDS[username]["id_number"])
    expect(first.locator("#valid_long_term")).to_be_checked()
    expect(second.locator("#valid_to")).to_have_value("2040-03-07")

    save(first, "contact")
    save(second, "contact")
    with app.app_context():
        for username, reader_label in (("witness", "平板读卡器甲"), ("witness2", "平板读卡器乙")):
            application = db.session.scalar(select(Application).join(Staff, Application.created_by_id == Staff.id)
                                            .where(Staff.username == username))
            identity = application.step_data("identity")
            assert identity["id_number"] == CARDS[username]["id_number"]
            read = db.session.get(CardRead, identity["card_read_id"])
            assert read.device.label == reader_label and read.used_by_application_id == application.id
    assert not errors, f"browser errors: {errors}"
