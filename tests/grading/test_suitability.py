"""Suitability matching on the customer page: fit, refusal, the customer's signed insistence."""
import io
from datetime import timedelta

from sqlalchemy import select

from blueprints.customers.models import Customer
from blueprints.opening.models import SuitabilityAssessment
from blueprints.products.models import Product, Recommendation
from core.extensions import db
from core.timeutil import business_today
from tests.factories import scan_png
from tests.lifecycle import activate_customer
from tests.requests.helpers import login_as, page_of


def customer_with_class(app, investor_class="C2", is_lowest=False, expired=False) -> str:
    clerk = login_as(app, "clerk")
    customer_no = activate_customer(app, clerk)
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.customer_no == customer_no))
        assessment = db.session.scalar(select(SuitabilityAssessment)
                                       .where(SuitabilityAssessment.customer_id == customer_id))
        assessment.investor_class, assessment.is_lowest = investor_class, is_lowest
        if expired:
            assessment.expires_on = business_today() - timedelta(days=1)
        db.session.add_all([Product(code="MMF01", name="货币基金一号", product_type="fund", risk_level="R1"),
                            Product(code="EQ04", name="股票精选四号", product_type="fund", risk_level="R4")])
        db.session.commit()
    return customer_no


def product_id(app, code) -> int:
    with app.app_context():
        return db.session.scalar(select(Product.id).where(Product.code == code))


def outcomes(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(r.outcome, r.message) for r in db.session.scalars(select(Recommendation).order_by(Recommendation.id))]


def test_page_says_what_fits_and_recommending_beyond_the_class_is_refused(app):
    customer_no = customer_with_class(app, "C2")
    clerk = login_as(app, "clerk")
    html = clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert "可推荐风险等级不高于 <strong>R2</strong>" in html
    section = html.split('id="match-EQ04"', 1)[1].split("</tr>", 1)[0]
    assert "不匹配" in section and "客户坚持购买" in section
    assert clerk.post("/products/recommend", {"customer_no": customer_no, "product_id": product_id(app, "MMF01"),
                                              "client_token": "t1"}).status_code == 303
    response = clerk.post("/products/recommend", {"customer_no": customer_no, "product_id": product_id(app, "EQ04"),
                                                  "client_token": "t2"})
    assert response.status_code == 303
    assert "不得推荐" in clerk.get(response.headers["Location"]).get_data(as_text=True)
    clerk.post("/products/recommend", {"customer_no": customer_no, "product_id": product_id(app, "EQ04"),
                                       "client_token": "t2"})  # a double submit records nothing more
    recorded = outcomes(app)
    assert [outcome for outcome, _ in recorded] == ["recommended", "refused"]
    assert "R4 高于客户风险承受能力 C2" in recorded[1][1]


def test_insistence_needs_the_signed_warning_and_is_kept(app):
    customer_no = customer_with_class(app, "C2")
    clerk = login_as(app, "clerk")
    eq = product_id(app, "EQ04")
    missing = clerk.post("/products/insist", {"customer_no": customer_no, "product_id": eq, "client_token": "i1"},
                         content_type="multipart/form-data", htmx=True)
    assert missing.status_code == 422 and "请上传客户签署的确认书扫描件" in missing.get_data(as_text=True)
    wrong = clerk.post("/products/insist", {"customer_no": customer_no, "product_id": eq, "client_token": "i1",
                                            "acknowledgement": (io.BytesIO(b"hello"), "a.txt")},
                       content_type="multipart/form-data", htmx=True)
    assert wrong.status_code == 422 and "不是允许的格式" in wrong.get_data(as_text=True)
    good = clerk.post("/products/insist", {"customer_no": customer_no, "product_id": eq, "client_token": "i1",
                                           "acknowledgement": (io.BytesIO(scan_png()), "ack.png")},
                      content_type="multipart/form-data")
    assert good.status_code == 303
    recorded = outcomes(app)
    assert recorded[-1][0] == "insisted" and "本公司未作推荐" in recorded[-1][1]
    with app.app_context():
        entry_id = db.session.scalar(select(Recommendation.id))
    shown = clerk.get(f"/products/recommendations/{entry_id}/acknowledgement")
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    assert login_as(app, "clerk_sh").get(f"/products/recommendations/{entry_id}/acknowledgement").status_code in (403, 404)


def test_lowest_class_and_expired_assessment_cannot_insist(app):
    customer_no = customer_with_class(app, "C1", is_lowest=True)
    clerk = login_as(app, "clerk")
    response = clerk.post("/products/insist", {"customer_no": customer_no, "product_id": product_id(app, "EQ04"),
                                               "client_token": "i2",
                                               "acknowledgement": (io.BytesIO(scan_png()), "ack.png")},
                          content_type="multipart/form-data", htmx=True)
    assert response.status_code == 422 and "最低类别" in response.get_data(as_text=True)
    assert outcomes(app) == []


def test_expired_assessment_limits_to_r1(app):
    customer_no = customer_with_class(app, "C5", expired=True)
    clerk = login_as(app, "clerk")
    html = clerk.get(f"/customers/{customer_no}").get_data(as_text=True)
    assert "已于" in html and "过期，仅可推荐 R1 产品" in html
    clerk.post("/products/recommend", {"customer_no": customer_no, "product_id": product_id(app, "EQ04")})
    assert outcomes(app)[0][0] == "refused"


def test_products_are_kept_by_hq(app):
    assert login_as(app, "manager").get("/products/").status_code == 403
    assert login_as(app, "manager").post("/products/recommend", {"customer_no": "x", "product_id": "1"}).status_code in (400, 403)
    admin = login_as(app, "admin")
    bad = admin.post("/products/new", {"new-code": "", "new-name": "x", "new-product_type": "fund", "new-risk_level": "R9"})
    assert bad.status_code == 422
    assert page_of(bad).errors_for("new-code") == ["请填写产品代码"]
    good = admin.post("/products/new", {"new-code": "bd02", "new-name": "国债精选", "new-product_type": "bond",
                                        "new-risk_level": "R2", "new-on_sale": "y"})
    assert good.status_code == 303
    clash = admin.post("/products/new", {"new-code": "BD02", "new-name": "重复", "new-product_type": "bond",
                                         "new-risk_level": "R2"})
    assert clash.status_code == 422 and "已存在" in clash.get_data(as_text=True)
