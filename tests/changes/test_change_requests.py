"""Changes to customer information at the counter: entry, 修改对比, same-terminal review, syncing, refusals."""
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.changes.models import ChangeStatusChange, CustomerChange
from blueprints.customers.models import Customer, CustomerProfile, IdDocument
from core import outbox
from core.extensions import db
from core.outbox import MessageStatus, OutboxMessage
from core.storage import LocalStore
from tests import factories
from tests.lifecycle import activate_customer
from tests.requests.helpers import Page, login_as

import io

NEW_MOBILE = "13912345678"


@pytest.fixture
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path / "files")))
    return tmp_path / "files"


@pytest.fixture
def customer_no(app, auth, file_store):
    auth.login()
    return activate_customer(app, auth)


def _customer(app, customer_no):
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        return {"id": customer.id, "version": customer.profile_version, "mobile": customer.profile.mobile,
                "name": customer.name, "id_number": customer.id_number, "unified": customer.unified_account_no}


def _form_values(html: str, form_id: str) -> dict:
    """The values a browser would post from the form: hidden, text and checked inputs, selected options."""
    page = Page(html)
    form = html.split(f'id="{form_id}"')[1].split("</form>")[0]
    values: dict[str, list[str]] = {}
    for match in re.finditer(r"<input([^>]*)>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', match.group(1)))
        kind = attrs.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in match.group(1):
            continue
        if kind in ("submit", "file") or "name" not in attrs:
            continue
        values.setdefault(attrs["name"], []).append(attrs.get("value", ""))
    for name, selected in page.selected.items():
        if f'name="{name}"' in form:
            values[name] = selected
    return values


def _ordinary_change(auth, customer_no, **changes):
    entry = auth.get(f"/changes/new/{customer_no}/ordinary")
    assert entry.status_code == 200
    values = _form_values(entry.get_data(as_text=True), "ordinary-change-form")
    values.update({k: [v] for k, v in changes.items()})
    preview = auth.post(f"/changes/new/{customer_no}/ordinary", data=values)
    return values, preview


def _submit_ordinary(auth, customer_no, **changes):
    values, preview = _ordinary_change(auth, customer_no, **changes)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert "修改对比" in preview.get_data(as_text=True)
    confirmed = _form_values(preview.get_data(as_text=True), "ordinary-change-form")
    response = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def _review(auth, reference, reviewer="reviewer", decision="approve", reason="", password=None):
    from blueprints.home.demo import DEMO_PASSWORD

    return auth.post(f"/changes/{reference}/review", data={
        "reviewer_username": reviewer, "reviewer_password": password or DEMO_PASSWORD,
        "decision": decision, "reason": reason})


def _change(app, reference):
    with app.app_context():
        change = db.session.scalar(select(CustomerChange).where(CustomerChange.reference == reference))
        return {"status": change.status, "applied_version": change.applied_version, "kind": change.kind,
                "slip": change.slip_sha256, "systems": change.systems, "csdc_found": change.csdc_found}


def _messages(app, reference):
    with app.app_context():
        return [(m.topic, m.status, m.delivery_label) for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"change:{reference}:"))
            .order_by(OutboxMessage.id))]


def test_the_preview_shows_the_comparison_masked_and_nothing_is_recorded_until_confirmed(app, auth, customer_no):
    _values, preview = _ordinary_change(auth, customer_no, mobile=NEW_MOBILE)
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    comparison = body.split('id="change-comparison"')[1].split("</table>")[0]
    assert "手机号码" in comparison and "139****5678" in comparison and NEW_MOBILE not in comparison
    assert "中国结算一码通账户" in body
    with app.app_context():
        assert db.session.scalar(select(CustomerChange)) is None


def test_an_ordinary_change_is_reviewed_on_the_same_terminal_applied_as_a_new_version_and_synced(app, auth, customer_no):
    before = _customer(app, customer_no)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    assert _change(app, reference)["status"] == "submitted"
    assert _customer(app, customer_no)["mobile"] == before["mobile"]  # nothing changes before review

    assert _review(auth, reference).status_code == 303
    change = _change(app, reference)
    assert change["status"] == "applied" and change["applied_version"] == before["version"] + 1
    after = _customer(app, customer_no)
    assert after["mobile"] == NEW_MOBILE and after["version"] == before["version"] + 1
    topics = [topic for topic, _status, _label in _messages(app, reference)]
    assert topics[0] == "csdc.change_registration" and "trading.update_records" in topics
    assert all(label == "未发送" for _t, _s, label in _messages(app, reference))

    with app.app_context():
        outbox.run_once()
        old = db.session.scalar(select(CustomerProfile).where(CustomerProfile.customer_id == before["id"],
                                                              CustomerProfile.version == before["version"]))
        assert old.mobile == before["mobile"]  # the earlier version is kept as it was
    assert _change(app, reference)["status"] == "completed"
    assert {label for _t, _s, label in _messages(app, reference)} == {"处理成功"}
    page = auth.get(f"/customers/{customer_no}").get_data(as_text=True)
    history = page.split('id="change-history"')[1].split("</table>")[0]
    assert reference in history and "手机号码" in history and "139****5678" in history and "处理成功" in history


def test_the_slip_is_printed_at_approval_with_the_comparison_and_the_signed_scan_is_archived(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    response = auth.get(f"/changes/{reference}/slip.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "客户普通资料修改确认单" in text and reference in text and "139****5678" in text and "客户签名" in text
    upload = auth.post(f"/changes/{reference}/signed-slip", data={"slip": (io.BytesIO(factories.scan_png()), "slip.png")},
                       content_type="multipart/form-data")
    assert upload.status_code == 303
    assert auth.get(f"/changes/{reference}/signed-slip").status_code == 200


def test_the_maker_cannot_review_their_own_change_and_nothing_is_applied(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    response = _review(auth, reference, reviewer="clerk")
    assert response.status_code == 403
    assert "只有复核岗可以复核资料变更" in response.get_data(as_text=True)
    assert _change(app, reference)["status"] == "submitted"
    wrong = _review(auth, reference, password="wrong-password")
    assert wrong.status_code == 422 and _change(app, reference)["status"] == "submitted"


def test_a_rejected_change_keeps_the_reason_and_can_be_withdrawn(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    missing = _review(auth, reference, decision="reject")
    assert missing.status_code == 422 and "退回须填写原因" in missing.get_data(as_text=True)
    assert _review(auth, reference, decision="reject", reason="手机号码与客户确认不一致").status_code == 303
    assert _change(app, reference)["status"] == "rejected"
    assert "手机号码与客户确认不一致" in auth.get(f"/changes/{reference}").get_data(as_text=True)
    assert auth.post(f"/changes/{reference}/withdraw", data={"reason": ""}).status_code == 422
    assert auth.post(f"/changes/{reference}/withdraw", data={"reason": "客户放弃"}).status_code == 303
    assert _change(app, reference)["status"] == "withdrawn"


def test_a_second_change_while_one_is_open_is_refused_and_keeps_what_was_typed(app, auth, customer_no):
    _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    values, preview = _ordinary_change(auth, customer_no, postcode="200120")
    confirmed = _form_values(preview.get_data(as_text=True), "ordinary-change-form")
    response = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "未完成的资料变更" in body
    assert 'value="200120"' in body


def test_a_change_entered_on_an_older_version_is_refused(app, auth, customer_no):
    entry = auth.get(f"/changes/new/{customer_no}/ordinary")
    stale = _form_values(entry.get_data(as_text=True), "ordinary-change-form")
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    stale.update({"postcode": ["200120"], "confirmed": ["1"]})
    response = auth.post(f"/changes/new/{customer_no}/ordinary", data=stale)
    assert response.status_code == 409 and "已被他人修改" in response.get_data(as_text=True)


def test_a_double_submit_records_one_change(app, auth, customer_no):
    _values, preview = _ordinary_change(auth, customer_no, mobile=NEW_MOBILE)
    confirmed = _form_values(preview.get_data(as_text=True), "ordinary-change-form")
    first = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    second = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert len(db.session.scalars(select(CustomerChange)).all()) == 1


def test_bad_input_is_refused_next_to_the_field(app, auth, customer_no):
    _values, response = _ordinary_change(auth, customer_no, mobile="12345", postcode="abc")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    page = Page(body)
    assert page.errors_for("mobile") and page.errors_for("postcode")
    assert 'value="abc"' in body


def test_china_clearing_refusal_shows_refused_and_withdrawing_restores_the_earlier_values(app, auth, customer_no):
    before = _customer(app, customer_no)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    app.extensions["china_clearing"].faults.reject_next("手机号码格式不符")
    with app.app_context():
        outbox.run_once()
    assert _change(app, reference)["status"] == "refused"
    page = auth.get(f"/changes/{reference}").get_data(as_text=True)
    assert "外部系统拒绝了本次变更" in page and "处理失败" in page
    assert auth.post(f"/changes/{reference}/withdraw", data={"reason": "客户决定不改"}).status_code == 303
    after = _customer(app, customer_no)
    assert after["mobile"] == before["mobile"] and after["version"] == before["version"] + 2
    assert _change(app, reference)["status"] == "withdrawn"


def test_a_refused_ordinary_change_is_corrected_as_a_new_reviewed_business_with_what_was_typed(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    app.extensions["china_clearing"].faults.reject_next("号码不在号段内")
    with app.app_context():
        outbox.run_once()
    response = auth.post(f"/changes/{reference}/withdraw", data={"reason": "号码录错，更正", "then": "redo"})
    assert response.status_code == 303 and f"from={reference}" in response.headers["Location"]
    entry = auth.get(response.headers["Location"]).get_data(as_text=True)
    assert f'value="{NEW_MOBILE}"' in entry  # what was typed comes along
    corrected = _submit_ordinary_from(auth, customer_no, entry, mobile="13700001111")
    assert _change(app, corrected)["status"] == "submitted"  # reviewed like any other change
    _review(auth, corrected)
    with app.app_context():
        outbox.run_once()
    assert _change(app, corrected)["status"] == "completed"
    assert _customer(app, customer_no)["mobile"] == "13700001111"


def test_withdrawing_a_refused_change_tells_the_systems_that_accepted_it_the_earlier_values(app, auth, customer_no):
    before = _customer(app, customer_no)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    app.extensions["trading"].faults.reject_next("股东资料锁定")
    with app.app_context():
        outbox.run_once()  # China Clearing accepts; one trading update is refused
    assert _change(app, reference)["status"] == "refused"
    assert auth.post(f"/changes/{reference}/withdraw", data={"reason": "客户决定不改"}).status_code == 303
    with app.app_context():
        reverts = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.startswith(f"change:{reference}:revert:"))).all()
        assert {m.topic for m in reverts} >= {"csdc.change_registration"}
        csdc = next(m for m in reverts if m.topic == "csdc.change_registration")
        assert csdc.payload["changes"] == {"mobile": before["mobile"]}
        outbox.run_once()
    assert _customer(app, customer_no)["mobile"] == before["mobile"]


def test_a_refused_change_cannot_be_withdrawn_while_a_system_has_not_answered(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    app.extensions["china_clearing"].faults.reject_next("格式不符")
    app.extensions["trading"].faults.fail_next(5)
    with app.app_context():
        outbox.run_once()
    assert _change(app, reference)["status"] == "refused"
    response = auth.post(f"/changes/{reference}/withdraw", data={"reason": "客户决定不改"})
    assert response.status_code == 409 and "尚有系统未应答" in response.get_data(as_text=True)


def _submit_ordinary_from(auth, customer_no, entry_html, **changes):
    values = _form_values(entry_html, "ordinary-change-form")
    values.update({k: [v] for k, v in changes.items()})
    preview = auth.post(f"/changes/new/{customer_no}/ordinary", data=values)
    confirmed = _form_values(preview.get_data(as_text=True), "ordinary-change-form")
    response = auth.post(f"/changes/new/{customer_no}/ordinary", data=confirmed)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def test_no_unified_account_at_china_clearing_means_nothing_is_sent_there(app, auth, customer_no):
    from sqlalchemy import delete

    from blueprints.accounts.china_clearing import sim_sub_account, sim_unified_account

    with app.app_context(), db.engine.begin() as conn:
        conn.execute(delete(sim_sub_account))
        conn.execute(delete(sim_unified_account))
    _values, preview = _ordinary_change(auth, customer_no, mobile=NEW_MOBILE)
    assert "未查询到该客户的一码通账户，本次不向中国结算报送" in preview.get_data(as_text=True)
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    assert "csdc.change_registration" not in [t for t, _s, _l in _messages(app, reference)]
    assert "本次未向中国结算报送" in auth.get(f"/changes/{reference}").get_data(as_text=True)


def test_outside_china_clearing_service_hours_the_request_waits_unsent(app, auth, customer_no):
    from tests.clock import ahead

    saturday = ahead(5, 4)
    clearing = app.extensions["china_clearing"]
    clearing.set_service_hours("09:00-16:00")
    clearing.clock = lambda: saturday
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    with app.app_context():
        outbox.run_once(now=saturday)
    csdc = [m for m in _messages(app, reference) if m[0] == "csdc.change_registration"]
    assert csdc and csdc[0][2] == "未发送" and csdc[0][1] == MessageStatus.PENDING
    assert "未发送" in auth.get(f"/changes/{reference}").get_data(as_text=True)


def _key_change(auth, customer_no, **fields):
    entry = auth.get(f"/changes/new/{customer_no}/key").get_data(as_text=True)
    values = _form_values(entry, "key-change-form")
    values.update({k: [v] if isinstance(v, str) else v for k, v in fields.items()})
    return values


def test_a_key_change_is_blocked_by_an_unconfirmed_link_which_is_confirmed_in_its_own_business(app, auth, customer_no):
    info = _customer(app, customer_no)
    clearing = app.extensions["china_clearing"]
    with app.app_context():
        numbers = clearing.mark_link_unconfirmed(info["unified"], "SZ")
    entry = auth.get(f"/changes/new/{customer_no}/key").get_data(as_text=True)
    assert "未确认关联关系" in entry and numbers[0] in entry
    values = _key_change(auth, customer_no, element="name", name="刘晓", valid_from="2026-11-01", valid_to="2046-11-01")
    values["certificate"] = (io.BytesIO(factories.scan_png()), "certificate.png")
    refused = auth.post(f"/changes/new/{customer_no}/key", data=values, content_type="multipart/form-data")
    assert refused.status_code == 409 and numbers[0] in refused.get_data(as_text=True)
    assert "已上传的变更证明将保留" in refused.get_data(as_text=True)  # the scan is not lost

    links = auth.get(f"/changes/new/{customer_no}/links").get_data(as_text=True)
    confirm = _form_values(links, "link-confirmation-form")
    confirm["confirm"] = numbers
    response = auth.post(f"/changes/new/{customer_no}/links", data=confirm)
    assert response.status_code == 303
    link_reference = response.headers["Location"].rsplit("/", 1)[1]
    assert _review(auth, link_reference).status_code == 303
    with app.app_context():
        outbox.run_once()
    assert _change(app, link_reference)["status"] == "completed"

    values = _key_change(auth, customer_no, element="renewal", valid_from="2026-11-01", valid_to="2046-11-01")
    preview = auth.post(f"/changes/new/{customer_no}/key", data=values)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    confirmed = _form_values(preview.get_data(as_text=True), "key-change-form")
    response = auth.post(f"/changes/new/{customer_no}/key", data=confirmed)
    assert response.status_code == 303, response.get_data(as_text=True)
    reference = response.headers["Location"].rsplit("/", 1)[1]
    assert _change(app, reference)["kind"] == "renewal"
    assert _review(auth, reference).status_code == 303
    with app.app_context():
        documents = db.session.scalars(select(IdDocument).where(IdDocument.customer_id == info["id"])
                                       .order_by(IdDocument.version)).all()
        assert [d.version for d in documents] == [1, 2] and documents[0].superseded_at is not None
        assert documents[1].valid_to.isoformat() == "2046-11-01"


def test_a_name_change_needs_the_certificate_and_never_goes_with_an_id_number_change(app, auth, customer_no):
    values = _key_change(auth, customer_no, element="name", name="刘晓", valid_from="2026-11-01", valid_to="2046-11-01")
    response = auth.post(f"/changes/new/{customer_no}/key", data=values)
    assert response.status_code == 422 and "请上传公安机关出具的变更证明扫描件" in response.get_data(as_text=True)


def test_a_name_change_re_verifies_identity_tells_the_bank_and_flags_the_depository_until_it_confirms(app, auth, customer_no):
    values = _key_change(auth, customer_no, element="name", name="刘晓", valid_from="2026-11-01", valid_to="2046-11-01")
    values["certificate"] = (io.BytesIO(factories.scan_png()), "certificate.png")
    preview = auth.post(f"/changes/new/{customer_no}/key", data=values, content_type="multipart/form-data")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    confirmed = _form_values(preview.get_data(as_text=True), "key-change-form")
    response = auth.post(f"/changes/new/{customer_no}/key", data=confirmed)
    assert response.status_code == 303, response.get_data(as_text=True)
    reference = response.headers["Location"].rsplit("/", 1)[1]
    assert _review(auth, reference).status_code == 303
    assert _customer(app, customer_no)["name"] == "刘晓"
    assert "bank.notify_key_change" in [t for t, _s, _l in _messages(app, reference)]
    assert "存管信息不一致" in auth.get(f"/customers/{customer_no}").get_data(as_text=True)
    with app.app_context():
        outbox.run_once()
    assert "存管信息不一致" not in auth.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert _change(app, reference)["status"] == "completed"


def test_a_key_change_whose_identity_check_fails_is_refused(app, auth, customer_no):
    app.extensions["identity_service"].script("mismatch")
    values = _key_change(auth, customer_no, element="renewal", valid_from="2026-11-01", valid_to="2046-11-01")
    preview = auth.post(f"/changes/new/{customer_no}/key", data=values)
    confirmed = _form_values(preview.get_data(as_text=True), "key-change-form")
    response = auth.post(f"/changes/new/{customer_no}/key", data=confirmed)
    assert response.status_code == 422 and "公民身份信息核查未通过" in response.get_data(as_text=True)


def test_the_upgrade_is_refused_when_the_stored_number_is_not_15_digits(app, auth, customer_no):
    values = _key_change(auth, customer_no, element="upgrade")
    response = auth.post(f"/changes/new/{customer_no}/key", data=values)
    assert response.status_code == 422 and "不适用升位" in response.get_data(as_text=True)


def test_another_branch_cannot_open_the_change_or_the_entry(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    other = login_as(app, "clerk_sh")
    assert other.get(f"/changes/{reference}").status_code == 404
    assert other.get(f"/changes/new/{customer_no}/ordinary").status_code == 404


def test_managers_count_changes_by_type_and_branch(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    manager = login_as(app, "manager")
    body = manager.get("/changes/?kind=ordinary").get_data(as_text=True)
    counts = body.split('id="change-counts"')[1].split("</table>")[0]
    assert "普通资料变更" in counts and ">1<" in counts
    assert reference in body
    assert login_as(app, "clerk").get("/changes/").status_code == 403
    assert manager.get("/changes/?date_from=2026-12-31&date_to=2026-01-01").status_code == 422


def test_every_change_step_is_recorded_in_its_history(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    with app.app_context():
        change_id = db.session.scalar(select(CustomerChange.id).where(CustomerChange.reference == reference))
        moves = db.session.scalars(select(ChangeStatusChange.to_status).where(ChangeStatusChange.change_id == change_id)
                                   .order_by(ChangeStatusChange.id)).all()
    assert moves == ["submitted", "applied"]


def test_the_dossier_keeps_every_change_with_its_comparison(app, auth, customer_no):
    from blueprints.archive import services as archive_services

    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.customer_no == customer_no))
        record = archive_services.dossier_record(customer)
        assert [p["version"] for p in record["profile_versions"]] == [2, 1]
        assert record["profile_versions"][0]["mobile"] == NEW_MOBILE
        change = record["changes"][0]
        assert change["reference"] == reference and change["reviewer"] == "李复核"
        assert {"field": "mobile", "label": "手机号码", "before": "13812348000", "after": NEW_MOBILE} in change["fields"]
        from blueprints.archive import dossier

        section = next(s for s in dossier.build_sections(record, []) if s["key"] == "changes")
        assert "手机号码：138****8000 → 139****5678" in section["tables"][0]["rows"][0][1]


def test_a_renewal_is_not_held_by_an_unconfirmed_link(app, auth, customer_no):
    info = _customer(app, customer_no)
    with app.app_context():
        app.extensions["china_clearing"].mark_link_unconfirmed(info["unified"], "SZ")
    values = _key_change(auth, customer_no, element="renewal", valid_from="2026-11-01", valid_to="2046-11-01")
    preview = auth.post(f"/changes/new/{customer_no}/key", data=values)
    assert preview.status_code == 200 and "修改对比" in preview.get_data(as_text=True)


def test_a_name_change_must_sync_china_clearing(app, auth, customer_no):
    values = _key_change(auth, customer_no, element="name", name="刘晓", valid_from="2026-11-01", valid_to="2046-11-01",
                         systems=["shareholder"])
    values["certificate"] = (io.BytesIO(factories.scan_png()), "certificate.png")
    response = auth.post(f"/changes/new/{customer_no}/key", data=values, content_type="multipart/form-data")
    assert response.status_code == 422 and "须同步中国结算一码通" in response.get_data(as_text=True)


def test_a_certificate_reference_not_signed_for_this_form_is_ignored(app, auth, customer_no):
    import hashlib as _hashlib

    from core import files

    with app.app_context():
        other = files.store(factories.scan_png(), {"image/png"}, 10**7)  # someone else's scan in the store
    values = _key_change(auth, customer_no, element="name", name="刘晓", valid_from="2026-11-01", valid_to="2046-11-01")
    values["certificate_ref"] = [f"{other.sha256}.{_hashlib.sha256(b'forged').hexdigest()}"]
    values["confirmed"] = ["1"]
    response = auth.post(f"/changes/new/{customer_no}/key", data=values)
    assert response.status_code == 422 and "请上传公安机关出具的变更证明扫描件" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(CustomerChange)) is None


def test_the_signed_slip_once_archived_is_not_replaced(app, auth, customer_no):
    reference = _submit_ordinary(auth, customer_no, mobile=NEW_MOBILE)
    _review(auth, reference)
    upload = lambda: auth.post(f"/changes/{reference}/signed-slip",  # noqa: E731
                               data={"slip": (io.BytesIO(factories.scan_png()), "slip.png")},
                               content_type="multipart/form-data")
    assert upload().status_code == 303
    assert upload().status_code == 409


def test_a_key_change_to_a_number_an_application_in_progress_uses_under_another_name_is_refused(app, auth, customer_no):
    other = factories.start(auth, token="other-person")
    with app.app_context():
        from blueprints.auth.models import Staff

        clerk_id = db.session.scalar(select(Staff.id).where(Staff.username == "clerk"))
    new_number = factories.make_id("110105", "19880612", "337")  # the customer's birth date and sex, another person
    factories.walk_with(auth, other, "contact", clerk_id, identity=factories.identity(name="王五", id_number=new_number))
    values = _key_change(auth, customer_no, element="id_number", id_type="resident_id", id_number=new_number,
                         valid_from="2026-11-01", valid_to="2046-11-01")
    values["certificate"] = (io.BytesIO(factories.scan_png()), "certificate.png")
    response = auth.post(f"/changes/new/{customer_no}/key", data=values, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and other in body and "姓名不同" in body
