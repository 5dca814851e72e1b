"""Products HQ maintains and the recommendations made from the customer page."""
import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.timeutil import utcnow


class Product(db.Model):
    """A financial product on sale (产品) with its risk level R1–R5."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    product_type: Mapped[str] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(2))
    on_sale: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecommendationOutcome(enum.StrEnum):
    RECOMMENDED = "recommended"  # fits: recommended
    REFUSED = "refused"  # beyond the customer's class: the system refused it
    INSISTED = "insisted"  # the customer insisted and signed the warning (风险不匹配警示及投资者确认书)


OUTCOME_LABELS = {
    RecommendationOutcome.RECOMMENDED: "已推荐",
    RecommendationOutcome.REFUSED: "不匹配，拒绝推荐",
    RecommendationOutcome.INSISTED: "客户坚持购买，已签署风险不匹配警示及投资者确认书",
}


class Recommendation(db.Model):
    """A product put to a customer, the match at that moment, and the outcome."""

    __tablename__ = "product_recommendation"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    risk_level: Mapped[str] = mapped_column(String(2))
    investor_class: Mapped[str | None] = mapped_column(String(4))
    is_lowest: Mapped[bool] = mapped_column(default=False)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("suitability_assessment.id"))
    assessment_expires_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[RecommendationOutcome] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(300))
    # The signed 风险不匹配警示及投资者确认书, kept in core/files by content hash.
    ack_sha256: Mapped[str | None] = mapped_column(String(64))
    ack_mime: Mapped[str | None] = mapped_column(String(40))
    ack_size: Mapped[int | None]
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[RecommendationOutcome(self.outcome)]
