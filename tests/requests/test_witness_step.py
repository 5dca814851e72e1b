"""The witness step of a witness opening: 第十七条 enforced, photo and signature kept."""
import base64

import pytest
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.opening.models import Application
from core import files
from core.extensions import db
from core.storage import LocalStore
from tests import factories
from tests.requests.helpers import login_as

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")
SIGNATURE = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(autouse=True)
def file_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.extensions, "file_store", LocalStore(str(tmp_path)))


def staff_ids(app, *usernames):
    with app.app_context():
        return [db.session.scalar(select(Staff.id).where(Staff.username == u)) for u in usernames]


@pytest.fixture
def witness_draft(app):
    """A witness opening walked up to the witness step, by the demo witness."""
    auth = login_as(app, "witness")
    response = auth.post("/opening/new", {"channel": "witness", "customer_type": "individual", "client_token": "w-1"})
    reference = response.headers["Location"].split("/")[2]
    [witness_id] = staff_ids(app, "witness")
    data = factories.payloads(witness_id)
    for key in ("identity", "contact", "verification", "agent", "documents", "disclosure", "suitability", "agreements"):
        assert auth.post(factories.step_url(reference, key), data[key]).status_code == 303, key
    return auth, reference


def witness_form(app, present=("witness", "clerk"), witness="witness", mode="in_person", **overrides):
    data = {"present": [str(i) for i in staff_ids(app, *present)], "mode": mode,
            "witness_id": str(staff_ids(app, witness)[0]), "place": "北京市朝阳区光华路1号 客户办公室",
            "photo_consent": "y", "signature": SIGNATURE, "work_id_shown": "y",
            "latitude": "39.9139", "longitude": "116.4551"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def with_photo(data, content=PNG, name="photo.png"):
    import io
    return dict(data, photo=(io.BytesIO(content), name))


def test_an_onsite_draft_has_no_witness_step(app, auth):
    auth.login()
    reference = factories.start(auth)
    assert auth.get(factories.step_url(reference, "witness")).status_code == 303


def test_two_staff_with_a_qualified_witness_complete_the_step(app, witness_draft):
    auth, reference = witness_draft
    response = auth.post(factories.step_url(reference, "witness"), with_photo(witness_form(app)),
                         content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].endswith("/summary")
    [witness_id] = staff_ids(app, "witness")
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        saved = application.step_data("witness")
        assert saved["remote"] is False and saved["witness_id"] == witness_id
        assert saved["latitude"] == pytest.approx(39.9139) and saved["photo_consent"] is True
        assert files.read(saved["signature_sha256"]) == PNG
        assert saved["photo_sha256"]


def test_one_staff_with_a_remote_video_witness_completes_the_step(app, witness_draft):
    auth, reference = witness_draft
    data = witness_form(app, present=("clerk",), witness="witness", mode="remote", video_reference="VC-20261125-0042")
    response = auth.post(factories.step_url(reference, "witness"), with_photo(data), content_type="multipart/form-data")
    assert response.status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        saved = application.step_data("witness")
        assert saved["remote"] is True and saved["video_reference"] == "VC-20261125-0042" and saved["video_at"]


@pytest.mark.parametrize("overrides, text", [
    (dict(present=("clerk",)), "远程实时视频"),
    (dict(present=("marketing", "clerk"), witness="marketing"), "营销人员，不得担任见证人"),
    (dict(present=("clerk", "witness"), witness="clerk"), "尚未通过开户见证培训"),
    (dict(present=("clerk",), mode="remote", video_reference=""), "视频会话编号"),
    (dict(signature=""), "请客户在平板上手写签名"),
    (dict(signature="data:image/png;base64,!!!"), "签名图像无法识别"),
    (dict(work_id_shown=None), "出示工作证件"),
], ids=["one-in-person", "marketing-witness", "untrained-witness", "no-video-ref", "no-signature",
        "bad-signature", "no-work-id"])
def test_meetings_that_break_the_rule_are_refused_with_the_rule(app, witness_draft, overrides, text):
    auth, reference = witness_draft
    response = auth.post(factories.step_url(reference, "witness"), with_photo(witness_form(app, **overrides)),
                         content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert text in body and "北京市朝阳区光华路1号" in body  # the place typed is kept


def test_a_photo_needs_separate_consent_and_must_be_an_image(app, witness_draft):
    auth, reference = witness_draft
    no_consent = auth.post(factories.step_url(reference, "witness"),
                           with_photo(witness_form(app, photo_consent=None)), content_type="multipart/form-data")
    assert no_consent.status_code == 422 and "单独同意" in no_consent.get_data(as_text=True)
    not_image = auth.post(factories.step_url(reference, "witness"),
                          with_photo(witness_form(app), content=b"%PDF-1.7 fake", name="photo.jpg"),
                          content_type="multipart/form-data")
    assert not_image.status_code == 422 and "仅接受 JPEG 或 PNG" in not_image.get_data(as_text=True)
    missing = auth.post(factories.step_url(reference, "witness"), witness_form(app), content_type="multipart/form-data")
    assert missing.status_code == 422 and "现场合影" in missing.get_data(as_text=True)


def test_a_witness_opening_cannot_be_submitted_without_the_witness_step(app, witness_draft):
    auth, reference = witness_draft
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303  # sent back to the missing step
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        assert application.status == "draft"


def test_the_witness_record_photo_and_signature_go_into_the_dossier(app, witness_draft):
    import io

    from pypdf import PdfReader

    from blueprints.archive import services as archive
    from blueprints.customers.models import Customer
    from blueprints.review import services as review

    auth, reference = witness_draft
    assert auth.post(factories.step_url(reference, "witness"), with_photo(witness_form(app)),
                     content_type="multipart/form-data").status_code == 303
    assert auth.post(factories.step_url(reference, "summary")).status_code == 303
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.reference == reference))
        reviewer = db.session.scalar(select(Staff).where(Staff.username == "reviewer"))
        review.approve(application, reviewer, reviewer)
        db.session.commit()
        customer = db.session.scalar(factories.customer_named(factories.identity()["name"]))
        archivist = db.session.scalar(select(Staff).where(Staff.username == "archivist"))
        entry = archive.generate_dossier_now(customer, archivist)
        db.session.commit()
        reader = PdfReader(io.BytesIO(files.read(entry.sha256)))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "见证记录" in text and "赵见证" in text and "客户手写签名" in text and "见证现场合影" in text
    assert sum(len(page.images) for page in reader.pages) >= 2
