"""The wizard as clerks use it every day: back and re-save, returned steps, scans, results shown, void, expiry."""
import base64
import io
import re

import pytest
from sqlalchemy import select

from blueprints.opening.models import Application, ApplicationDocument
from blueprints.review import services as review
from blueprints.auth.models import Staff
from core import files
from core.extensions import db
from core.storage import LocalStore
from tests import factories
from tests.requests.helpers import application_row, login_as, page_of, staff_id, status_changes

PNG = factories.scan_png()
SIGNATURE = "data:image/png;base64," + base64.b64encode(factories.scan_png(320, 320, 250)).decode()


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path)))


@pytest.fixture
def clerk(app):
    return login_as(app, "clerk")


def draft(app, clerk, until: str, token: str = "daily", **overrides) -> str:
    reference = factories.start(clerk, token)
    factories.walk_with(clerk, reference, until, staff_id(app, "clerk"), **overrides)
    return reference


def body(response) -> str:
    return response.get_data(as_text=True)


# --- 2. every step renders from what is saved ------------------------------------------------------

def test_resaving_identity_shows_the_saved_contact_step_filled_in(app, clerk):
    reference = draft(app, clerk, "summary")
    response = clerk.post(factories.step_url(reference, "identity"), factories.identity(), htmx=True)
    assert response.status_code == 200
    page = page_of(response)
    assert 'data-step="contact"' in body(response)
    # The contact step's own saved values, not the identity post's fields of the same name.
    assert page.value("mobile") == "13812348000"
    assert page.value("address") == factories.contact()["address"]
    assert page.value("postcode") == "100022"


def test_resaving_the_suitability_shows_the_result_then_the_saved_agreements(app, clerk):
    reference = draft(app, clerk, "summary")
    response = clerk.post(factories.step_url(reference, "suitability"), factories.answers(), htmx=True)
    assert response.status_code == 200 and 'id="assessment-result"' in body(response)
    agreements = page_of(clerk.get(factories.step_url(reference, "agreements"), htmx=True))
    assert agreements.value("bank_card") == factories.BANK_CARD
    assert agreements.select_value("bank_code") == "ICBC"
    assert "agreement_brokerage" in agreements.checked("agreement_brokerage") or \
        agreements.checked("agreement_brokerage") == ["y"]


@pytest.mark.parametrize("htmx", [False, True], ids=["url", "htmx"])
def test_a_step_looks_the_same_by_url_and_by_htmx(app, clerk, htmx):
    reference = draft(app, clerk, "summary")
    page = page_of(clerk.get(factories.step_url(reference, "contact"), htmx=htmx))
    assert page.value("mobile") == "13812348000" and page.value("email") == "liuxm@example.com"


# --- 9. one numbering, from the channel's own steps ------------------------------------------------

def test_the_witness_channel_numbers_its_own_steps(app):
    witness = login_as(app, "witness")
    response = witness.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": "w"})
    reference = response.headers["Location"].split("/")[2]
    html = body(witness.get(factories.step_url(reference, "identity")))
    assert "10. 见证与签名" in html and "11. 汇总与提交" in html
    assert "<h1>2. 身份证明文件</h1>" in html


def test_the_onsite_channel_has_no_witness_number(app, clerk):
    reference = draft(app, clerk, "contact")
    html = body(clerk.get(factories.step_url(reference, "contact")))
    assert "10. 汇总与提交" in html and "见证与签名" not in html


# --- 13. after fixing the returned step: the summary, and the flag gone ------------------------------

def _returned(app, clerk, step: str = "contact") -> str:
    reference = draft(app, clerk, "summary")
    assert clerk.post(factories.step_url(reference, "summary"), {}).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.reject(application, reviewer, reviewer, "手机号码与客户口述不符", step)
        db.session.commit()
    return reference


def test_resume_opens_the_returned_step_and_after_fixing_it_the_summary(app, clerk):
    reference = _returned(app, clerk)
    resume = clerk.get(f"/opening/{reference}")
    assert resume.headers["Location"] == factories.step_url(reference, "contact")
    before = body(clerk.get(factories.step_url(reference, "contact")))
    assert 'class="flag">需修改' in before and "手机号码与客户口述不符" in before
    fixed = clerk.post(factories.step_url(reference, "contact"), factories.contact(mobile="13912348000"), htmx=True)
    assert fixed.headers["HX-Push-Url"] == factories.step_url(reference, "summary")
    assert 'class="flag">需修改' not in body(fixed) and "（已修改）" in body(fixed)
    assert clerk.post(factories.step_url(reference, "summary"), {}).status_code == 303
    assert application_row(app, reference)["status"] == "resubmitted"


def test_the_todo_list_names_the_next_step_and_the_rejection_reason(app, clerk):
    reference = _returned(app, clerk)
    html = body(clerk.get("/opening/"))
    row = html[html.index(f'data-reference="{reference}"'):]
    row = row[:row.index("</tr>")]
    assert "3. 联系方式与基本信息" in row and "退回原因：手机号码与客户口述不符" in row


# --- 10. the consistency check at the identity step -------------------------------------------------

def test_an_id_number_of_an_existing_customer_under_another_name_is_refused_at_once(app, clerk):
    reference = draft(app, clerk, "identity")
    data = factories.identity(id_number=factories.EXISTING_CUSTOMER_ID, name="李四", sex="F", birth_date="1949-12-31")
    response = clerk.post(factories.step_url(reference, "identity"), data)
    assert response.status_code == 422
    assert "张建国" in " ".join(page_of(response).errors_for("id_number"))
    assert page_of(response).value("name") == "李四"


# --- 7. suitability -----------------------------------------------------------------------------------

def _q(key):
    return next(q for q in factories.QUESTIONNAIRE["questions"] if q["key"] == key)


def test_an_exclusive_option_with_another_is_refused(app, clerk):
    reference = draft(app, clerk, "suitability")
    answers = factories.answers()
    answers["q16"] = ["A", "D"]
    response = clerk.post(factories.step_url(reference, "suitability"), answers)
    assert response.status_code == 422
    assert "选择了“以上均不存在”，不能同时选择其他选项" in " ".join(page_of(response).errors_for("q16"))


def test_an_age_band_that_contradicts_the_id_is_refused(app, clerk):
    reference = draft(app, clerk, "suitability")
    answers = factories.answers()
    answers["q01"] = "E"  # 61 or older; the ID says 1988
    response = clerk.post(factories.step_url(reference, "suitability"), answers)
    assert response.status_code == 422
    message = " ".join(page_of(response).errors_for("q01"))
    assert "与证件不符" in message and "31至40周岁" in message


def test_the_age_band_is_preselected_from_the_id(app, clerk):
    reference = draft(app, clerk, "suitability")
    page = page_of(clerk.get(factories.step_url(reference, "suitability")))
    assert page.checked("q01") == ["B"]


def test_the_result_is_shown_before_moving_on(app, clerk):
    reference = draft(app, clerk, "suitability")
    response = clerk.post(factories.step_url(reference, "suitability"), factories.answers(), htmx=True)
    html = body(response)
    assert 'data-step="suitability"' in html and 'id="assessment-result"' in html
    assert "C5" in html and "有效期至" in html and 'id="suitability-next"' in html


def test_a_knock_out_answer_says_lowest_class(app, clerk):
    reference = draft(app, clerk, "suitability")
    answers = factories.answers()
    answers["q16"] = ["B"]
    html = body(clerk.post(factories.step_url(reference, "suitability"), answers, htmx=True))
    assert "最低类别" in html


def test_multiple_choice_is_said_once(app, clerk):
    reference = draft(app, clerk, "suitability")
    html = body(clerk.get(factories.step_url(reference, "suitability")))
    assert "（可多选）（可多选）" not in html and "（可多选）" in html


# --- 14. the identity check's result is shown -------------------------------------------------------

def test_a_matching_check_shows_its_result_with_next(app, clerk):
    reference = draft(app, clerk, "verification")
    html = body(clerk.post(factories.step_url(reference, "verification"), {}, htmx=True))
    assert 'data-step="verification"' in html and "核查结果：一致" in html and 'id="verification-next"' in html


# --- scans during opening -------------------------------------------------------------------------

def _upload(kind, content=PNG, name="scan.png"):
    return {kind: (io.BytesIO(content), name)}


def test_documents_step_needs_both_sides_of_the_id(app, clerk):
    reference = draft(app, clerk, "documents")
    response = clerk.post(factories.step_url(reference, "documents"), dict(_upload("id_front"), action="next"))
    assert response.status_code == 422
    assert "请上传客户身份证件反面（国徽面）" in " ".join(page_of(response).errors_for("id_back"))
    # The front was kept: it is not asked for again.
    assert page_of(response).errors_for("id_front") == []
    with app.app_context():
        kinds = db.session.scalars(select(ApplicationDocument.kind)).all()
    assert kinds == ["id_front"]


@pytest.mark.parametrize("content, message", [
    (b"%PDF-" + b"x" * 10, None),
    (b"not an image at all", "不是 JPEG、PNG 或 PDF"),
    (PNG[:60], "无法识别或已损坏"),
    (factories.scan_png(120, 80), "图像过小"),
], ids=["pdf", "text", "truncated", "tiny"])
def test_scans_are_checked_by_content(app, clerk, content, message):
    reference = draft(app, clerk, "documents")
    response = clerk.post(factories.step_url(reference, "documents"),
                          dict(_upload("id_front", content, "front.jpg"), action="upload"))
    if message is None:
        assert response.status_code == 303
    else:
        assert response.status_code == 422
        assert message in " ".join(page_of(response).errors_for("id_front"))


@pytest.mark.parametrize("content", [PNG[:len(PNG) - 30], b"\xff\xd8\xff\xe0" + PNG[8:200]], ids=["png", "jpeg"])
def test_a_truncated_scan_is_refused_even_where_truncated_images_are_tolerated(app, clerk, content, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what importing WeasyPrint does
    reference = draft(app, clerk, "documents")
    response = clerk.post(factories.step_url(reference, "documents"),
                          dict(_upload("id_front", content, "front.png"), action="upload"))
    assert response.status_code == 422
    assert "无法识别或已损坏" in " ".join(page_of(response).errors_for("id_front"))


def test_an_agent_needs_the_agents_id_and_the_notarised_authorisation(app, clerk):
    reference = draft(app, clerk, "documents", agent_data=factories.resident_agent())
    response = clerk.post(factories.step_url(reference, "documents"), factories.documents())
    assert response.status_code == 422
    assert page_of(response).errors_for("authorization")


def test_a_replacement_scan_keeps_the_old_one_on_record(app, clerk):
    reference = draft(app, clerk, "disclosure")
    clerk.post(factories.step_url(reference, "documents"),
               dict(_upload("id_front", factories.scan_png(shade=99)), action="upload"))
    with app.app_context():
        rows = db.session.execute(select(ApplicationDocument.version, ApplicationDocument.superseded_at)
                                  .where(ApplicationDocument.kind == "id_front")
                                  .order_by(ApplicationDocument.version)).all()
    assert [r.version for r in rows] == [1, 2] and rows[0].superseded_at is not None and rows[1].superseded_at is None


def test_the_clerk_sees_a_saved_scan_and_nobody_else_does(app, clerk):
    reference = draft(app, clerk, "disclosure")
    html = body(clerk.get(factories.step_url(reference, "documents")))
    [src] = re.findall(r'<img src="([^"]+)" alt="客户身份证件正面', html)
    image = clerk.get(src)
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert image.headers["Cache-Control"] == "no-store"
    assert login_as(app, "clerk_sh").get(src).status_code == 404
    assert clerk.get(src.rsplit("/", 1)[0] + "/" + "0" * 64).status_code == 404


# --- per-document decisions ---------------------------------------------------------------------

def _submitted(app, clerk) -> str:
    reference = draft(app, clerk, "summary")
    assert clerk.post(factories.step_url(reference, "summary"), {}).status_code == 303
    return reference


def _document(app, reference, kind="id_back"):
    with app.app_context():
        return db.session.scalar(select(ApplicationDocument.id).join(Application)
                                 .where(Application.reference == reference, ApplicationDocument.kind == kind,
                                        ApplicationDocument.superseded_at.is_(None)))


def test_a_scan_asked_again_is_the_clerks_todo_and_blocks_approval_until_replaced(app, clerk):
    reference = _submitted(app, clerk)
    reviewer = login_as(app, "reviewer")
    asked = reviewer.post(f"/review/{reference}/documents/{_document(app, reference)}",
                          {"decision": "request", "reason": "反面模糊，有效期看不清"})
    assert asked.status_code == 303
    assert application_row(app, reference)["status"] == "submitted"  # the review stays open

    todo = body(clerk.get("/opening/"))
    assert ">补充影像</a>" in todo and "反面模糊，有效期看不清" in todo
    refused = reviewer.post(f"/review/{reference}/approve")
    assert refused.status_code == 422 and "已要求重新提交" in body(refused)

    resupply = clerk.post(f"/opening/{reference}/documents", _upload("id_back", factories.scan_png(shade=77)))
    assert resupply.status_code == 303
    assert ">补充影像</a>" not in body(clerk.get("/opening/"))
    assert reviewer.post(f"/review/{reference}/approve").status_code == 303
    with app.app_context():
        statuses = db.session.execute(select(ApplicationDocument.kind, ApplicationDocument.version,
                                             ApplicationDocument.review_status)
                                      .order_by(ApplicationDocument.id)).all()
    assert ("id_back", 1, "requested") in statuses and ("id_back", 2, "accepted") in statuses
    assert ("id_front", 1, "accepted") in statuses


def test_asking_again_needs_a_reason(app, clerk):
    reference = _submitted(app, clerk)
    reviewer = login_as(app, "reviewer")
    response = reviewer.post(f"/review/{reference}/documents/{_document(app, reference)}", {"decision": "request"})
    assert response.status_code == 422 and "要求重新提交须填写原因" in body(response)


def test_only_a_reviewer_decides_on_a_scan(app, clerk):
    reference = _submitted(app, clerk)
    response = clerk.post(f"/review/{reference}/documents/{_document(app, reference)}", {"decision": "accept"})
    assert response.status_code == 403


# --- 11. the witness step keeps the photo and the signature ------------------------------------------

def _witness_walk(app, until: str, token: str):
    """A witness opening by the demo witness, every step before `until` saved."""
    from blueprints.opening.workflow import keys_for

    witness = login_as(app, "witness")
    response = witness.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": token})
    reference = response.headers["Location"].split("/")[2]
    data = factories.payloads(staff_id(app, "witness"))
    keys = keys_for("witness")
    for key in keys[1:keys.index(until)]:
        assert witness.post(factories.step_url(reference, key), data[key]).status_code == 303, key
    return witness, reference


def _witness_draft(app):
    return _witness_walk(app, "witness", "w1")


def _witness_form(app, **overrides):
    data = {"present": [str(staff_id(app, "witness")), str(staff_id(app, "clerk"))], "mode": "in_person",
            "witness_id": str(staff_id(app, "witness")), "place": "北京市朝阳区光华路1号",
            "photo_consent": "y", "signature": SIGNATURE, "work_id_shown": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_refused_witness_save_keeps_the_photo_and_the_signature(app):
    witness, reference = _witness_draft(app)
    refused = witness.post(factories.step_url(reference, "witness"),
                           dict(_witness_form(app, place=""), photo=(io.BytesIO(PNG), "photo.png")))
    assert refused.status_code == 422
    html = body(refused)
    assert 'id="saved-photo"' in html and "本次已拍摄的合影" in html
    assert "本次签名已保留" in html
    # Saved without taking the photo or signing again.
    again = witness.post(factories.step_url(reference, "witness"), _witness_form(app, signature=None))
    assert again.status_code == 303
    saved = application_row(app, reference)["steps"]["witness"]
    assert saved["photo_sha256"] and saved["signature_sha256"]


def test_the_witness_step_preselects_the_current_user_when_reached_by_saving_the_step_before(app):
    witness, reference = _witness_walk(app, "agreements", "w2")
    html = witness.post(factories.step_url(reference, "agreements"), factories.agreements(), htmx=True)
    assert page_of(html).checked("present") == [str(staff_id(app, "witness"))]


def test_marketing_staff_are_labelled_once(app):
    witness, reference = _witness_draft(app)
    html = body(witness.get(factories.step_url(reference, "witness")))
    assert "营销人员，营销人员" not in html


# --- 5. void -----------------------------------------------------------------------------------------

def test_a_returned_application_can_be_voided_with_a_reason(app, clerk):
    reference = _returned(app, clerk)
    html = body(clerk.get(factories.step_url(reference, "contact")))
    assert "作废此申请" in html
    assert clerk.post(f"/opening/{reference}/withdraw", {"reason_code": "customer_gave_up"}).status_code == 303
    assert status_changes(app, reference)[-1] == ("rejected", "withdrawn", "客户放弃开户")


# --- 6. an expired session keeps what was typed ------------------------------------------------------

def test_a_save_after_logout_in_another_tab_says_log_in_again(app, clerk):
    reference = draft(app, clerk, "contact")
    page_url = factories.step_url(reference, "contact")
    clerk.post("/auth/logout")
    response = clerk.post(page_url, factories.contact(), htmx=True, headers={"HX-Current-URL": f"http://localhost{page_url}"})
    assert response.status_code == 401
    assert "登录已失效，请重新登录" in body(response)
    assert response.headers["X-Login-Url"] == f"/auth/login?next={page_url}"
    assert "HX-Redirect" not in response.headers


def test_a_save_after_the_idle_timeout_says_log_in_again(app, clerk, monkeypatch):
    from datetime import timedelta

    reference = draft(app, clerk, "contact")
    monkeypatch.setitem(app.config, "IDLE_TIMEOUT", timedelta(seconds=-1))
    response = clerk.post(factories.step_url(reference, "contact"), factories.contact(), htmx=True)
    assert response.status_code == 401 and "X-Login-Url" in response.headers
    assert "contact" not in application_row(app, reference)["completed"]


# --- the scans go into the archived dossier -----------------------------------------------------------

def test_the_id_scans_and_their_review_go_into_the_dossier(app, clerk):
    from pypdf import PdfReader

    from blueprints.archive import services as archive
    from blueprints.customers.models import Customer

    reference = _submitted(app, clerk)
    reviewer = login_as(app, "reviewer")
    reviewer.post(f"/review/{reference}/documents/{_document(app, reference)}", {"decision": "request", "reason": "反面模糊"})
    clerk.post(f"/opening/{reference}/documents", _upload("id_back", factories.scan_png(shade=66)))
    assert reviewer.post(f"/review/{reference}/approve").status_code == 303
    with app.app_context():
        customer = db.session.scalar(factories.customer_named(factories.identity()["name"]))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        entry = archive.generate_dossier_now(customer, archivist)
        db.session.commit()
        reader = PdfReader(io.BytesIO(files.read(entry.sha256)))
    text = "".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", "", text)  # table cells wrap
    assert "证件影像复核记录" in flat and "反面模糊" in flat and "已替换" in flat
    assert "客户身份证件正面（人像面）" in text and "客户身份证件反面（国徽面）" in text
    assert sum(len(page.images) for page in reader.pages) >= 2
