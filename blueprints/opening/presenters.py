"""Read-only views of an application for templates, shared by every blueprint that shows one."""
from flask_login import current_user

from blueprints.accounts.models import BANKS
from blueprints.opening import choices, scoring, services, workflow
from blueprints.opening.rules import ID_TYPE_LABELS
from core.security import sees_full_id


def summary_context(application) -> dict:
    """Everything entered, as the read-only summary templates expect it."""
    assessment = services.latest_assessment(application)
    return {
        "identity": application.step_data("identity") or {},
        "contact": application.step_data("contact") or {},
        "agent": application.step_data("agent") or {},
        "disclosure": application.step_data("disclosure") or {},
        "agreements": application.step_data("agreements") or {},
        "verification": services.latest_verification(application),
        "assessment": assessment,
        "assessment_label": class_label(assessment),
        "show_full_id": sees_full_id(current_user),
        "choices": choices,
        "id_type_labels": ID_TYPE_LABELS,
        "status_labels": workflow.STATUS_LABELS,
        "banks": BANKS,
    }


def class_label(assessment) -> str | None:
    return scoring.class_label(assessment.investor_class, assessment.is_lowest) if assessment else None
