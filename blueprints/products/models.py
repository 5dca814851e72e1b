"""Products HQ maintains and the recommendations made from the customer page."""
import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.classification import C1
from core.extensions import db
from core.timeutil import utcnow


class Product(db.Model):
    """A financial product on sale (产品) with its risk level R1–R5."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    code: Mapped[str] = mapped_column(String(16), unique=True, info=C1)
    name: Mapped[str] = mapped_column(String(100), info=C1)
    product_type: Mapped[str] = mapped_column(String(32), info=C1)
    risk_level: Mapped[str] = mapped_column(String(2), info=C1)
    on_sale: Mapped[bool] = mapped_column(default=True, info=C1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), info=C1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)


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

    id: Mapped[int] = mapped_column(primary_key=True, info=C1)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True, info=C1)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), info=C1)
    risk_level: Mapped[str] = mapped_column(String(2), info=C1)
    investor_class: Mapped[str | None] = mapped_column(String(4), info=C1)
    is_lowest: Mapped[bool] = mapped_column(default=False, info=C1)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("suitability_assessment.id"), info=C1)
    assessment_expires_on: Mapped[date | None] = mapped_column(Date, info=C1)
    outcome: Mapped[RecommendationOutcome] = mapped_column(String(16), info=C1)
    message: Mapped[str] = mapped_column(String(300), info=C1)
    # The signed 风险不匹配警示及投资者确认书, kept in core/files by content hash.
    ack_sha256: Mapped[str | None] = mapped_column(String(64), info=C1)
    ack_mime: Mapped[str | None] = mapped_column(String(40), info=C1)
    ack_size: Mapped[int | None] = mapped_column(info=C1)
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True, info=C1)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), info=C1)
    at: Mapped[datetime] = mapped_column(default=utcnow, info=C1)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[RecommendationOutcome(self.outcome)]
