"""Products and suitability matching: the customer's standing, the match, recommendations and insistence."""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from blueprints.auth.models import Staff
from blueprints.customers.models import Customer
from blueprints.opening.models import SuitabilityAssessment
from blueprints.products import rules
from blueprints.products.models import Product, Recommendation, RecommendationOutcome
from core import audit, files
from core.extensions import db
from core.idempotency import made_with
from core.timeutil import business_today, utcnow

ACKNOWLEDGEMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}


class SuitabilityRefused(Exception):
    """What the matching rule or the upload refuses; the message is shown in Chinese."""


def latest_assessment(customer: Customer) -> SuitabilityAssessment | None:
    return db.session.scalar(select(SuitabilityAssessment).where(SuitabilityAssessment.customer_id == customer.id)
                             .order_by(SuitabilityAssessment.assessed_at.desc(), SuitabilityAssessment.id.desc())
                             .limit(1))


def standing_of(assessment: SuitabilityAssessment | None) -> rules.Standing:
    if assessment is None:
        return rules.Standing(None, False, None)
    return rules.Standing(assessment.investor_class, assessment.is_lowest, assessment.expires_on)


@dataclass
class ProductMatch:
    product: Product
    match: rules.Match


def on_sale() -> list[Product]:
    return list(db.session.scalars(select(Product).where(Product.on_sale).order_by(Product.risk_level, Product.code)))


def all_products() -> list[Product]:
    return list(db.session.scalars(select(Product).order_by(Product.code)))


def matches(customer: Customer) -> tuple[SuitabilityAssessment | None, rules.Standing, list[ProductMatch]]:
    assessment = latest_assessment(customer)
    standing = standing_of(assessment)
    today = business_today()
    return assessment, standing, [ProductMatch(p, rules.match(standing, p.risk_level, today)) for p in on_sale()]


def recommendations_of(customer: Customer) -> list[Recommendation]:
    return list(db.session.scalars(select(Recommendation).where(Recommendation.customer_id == customer.id)
                                   .order_by(Recommendation.id.desc()).limit(50)))


def _record(customer, product, assessment, outcome, message, actor, client_token, stored=None) -> Recommendation:
    entry = Recommendation(customer_id=customer.id, product_id=product.id, risk_level=product.risk_level,
                           investor_class=getattr(assessment, "investor_class", None),
                           is_lowest=bool(getattr(assessment, "is_lowest", False)),
                           assessment_id=getattr(assessment, "id", None),
                           assessment_expires_on=getattr(assessment, "expires_on", None), outcome=outcome,
                           message=message[:300], staff_id=actor.id, client_token=client_token or None,
                           ack_sha256=getattr(stored, "sha256", None), ack_mime=getattr(stored, "mime", None),
                           ack_size=getattr(stored, "size", None))
    db.session.add(entry)
    db.session.flush()
    audit.record(f"suitability.{outcome}", "customer", customer.customer_no, product=product.code,
                 risk_level=product.risk_level, investor_class=entry.investor_class, recommendation=entry.id)
    return entry


def recommend(customer: Customer, product: Product, actor: Staff, client_token: str | None = None) -> Recommendation:
    """Recommend a product: recorded as recommended when it fits, as refused (with why) when it does not."""
    earlier = made_with(Recommendation, client_token, actor.id, maker="staff_id")
    if earlier is not None:
        return earlier
    assessment = latest_assessment(customer)
    found = rules.match(standing_of(assessment), product.risk_level, business_today())
    outcome = RecommendationOutcome.RECOMMENDED if found.fits else RecommendationOutcome.REFUSED
    return _record(customer, product, assessment, outcome, found.message, actor, client_token)


def record_insistence(customer: Customer, product: Product, actor: Staff, data: bytes,
                      client_token: str | None = None) -> Recommendation:
    """The customer insists on a product beyond their class: keep their signed 风险不匹配警示及投资者确认书."""
    earlier = made_with(Recommendation, client_token, actor.id, maker="staff_id")
    if earlier is not None:
        return earlier
    assessment = latest_assessment(customer)
    found = rules.match(standing_of(assessment), product.risk_level, business_today())
    if found.fits:
        raise SuitabilityRefused("该产品与客户风险承受能力匹配，无需签署风险不匹配警示书")
    if not found.may_insist:
        raise SuitabilityRefused(found.message)
    try:
        stored = files.store(data, ACKNOWLEDGEMENT_TYPES, current_app.config["MAX_SCAN_BYTES"])
    except files.FileRejected as rejected:
        raise SuitabilityRefused(str(rejected)) from None
    message = (f"客户主动要求购买风险等级 {product.risk_level} 的产品（高于其 {assessment.investor_class} 可承受的 "
               f"{found.ceiling}），已进行特别风险警示，客户签署风险不匹配警示及投资者确认书；本公司未作推荐")
    return _record(customer, product, assessment, RecommendationOutcome.INSISTED, message, actor, client_token,
                   stored=stored)


def save_product(product: Product | None, values: dict, actor: Staff) -> Product:
    """Add or change a product (HQ); the code is unique."""
    clash = db.session.scalar(select(Product).where(Product.code == values["code"]))
    if clash is not None and clash is not product:
        raise SuitabilityRefused(f"产品代码“{values['code']}”已存在")
    before = None if product is None else {"risk_level": product.risk_level, "on_sale": product.on_sale,
                                           "name": product.name}
    if product is None:
        product = Product()
        db.session.add(product)
    for key, value in values.items():
        setattr(product, key, value)
    product.updated_by_id, product.updated_at = actor.id, utcnow()
    db.session.flush()
    audit.record("product.save", "product", product.code, before=before,
                 after={"risk_level": product.risk_level, "on_sale": product.on_sale, "name": product.name})
    return product
