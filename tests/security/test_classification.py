"""Every column carries its class (C1/C2/C3), and what the class asks of storage holds (ASVS 5.0 V14.1, V14.2)."""
import pytest
from sqlalchemy import String

from core.classification import CLASSES, class_of
from core.crypto import EncryptedJSON, EncryptedText
from core.extensions import db

ENCRYPTED = (EncryptedText, EncryptedJSON)
# Columns holding a keyed hash (a blind index: core.crypto.blind_index) or a one-way hash, never the value.
HASHES = {
    "application.id_number_index", "customer_profile.id_number_index", "customer_id_document.id_number_index",
    "identity_verification.id_number_index", "customer_profile.mobile_index", "sim_csdc_unified_account.id_number_index",
    "sim_bank_balance.card_index", "staff.password_hash", "terminal.token_hash", "staff_session.token_hash",
}

# C2 columns kept readable by design, each with why. The test fails on any other C2 column stored in the clear.
C2_IN_THE_CLEAR = {
    # Names: found by prefix, pinyin and initials (a blind index only finds an equal value); shown on
    # every record a member of staff works on.
    "customer_profile.name": "name searched by prefix and shown on every record",
    "customer_profile.name_key": "search key of the name",
    "customer_profile.name_pinyin": "search key of the name",
    "customer_profile.name_initials": "search key of the name",
    "customer_id_document.name": "the name as on the document, compared with the profile's",
    "application.customer_name": "the review queue and opening lists sort and show it",
    "identity_verification.name": "the name the public-security check was asked about, kept as its record",
    "customer_search_key.value": "name keys for prefix search; ID-number and mobile keys are blind-index hashes",
    "customer_profile.birth_month_day": "birthdays are found through an index (reminders)",
    "staff.full_name": "the member of staff's own name, shown to colleagues on every record",
    # Addresses of staff terminals, not of customers: the audit trail is read in investigations.
    "audit_event.ip": "read in investigations of the audit trail",
    "lending_record.ip": "read in investigations of the archive's lending register",
    "staff_session.ip": "where a member of staff is logged in from, read when sessions are ended or investigated",
    "staff_session.user_agent": "a browser and system summary of the same",
    # Amounts valued and summed in SQL (grading, statistics); a row carries only the customer's id.
    "commission.amount": "summed in SQL for grading",
    "holding.security_code": "joined with prices in SQL for valuation",
    "holding.quantity": "valued in SQL",
    "holding.cost": "valued in SQL",
    "holding.listed_code": "joined with prices in SQL for valuation",
    "grading_import_staging.dedup_key": "rows of an import in progress, deleted when it ends",
    "grading_import_staging.code": "rows of an import in progress, deleted when it ends",
    "grading_import_staging.other_code": "rows of an import in progress, deleted when it ends",
    "grading_import_staging.amount": "rows of an import in progress, deleted when it ends",
    "grading_import_staging.amount2": "rows of an import in progress, deleted when it ends",
    # The built-in simulators stand for the other side's systems (China Clearing, the bank, the
    # trading system) and hold only what those would; production talks to the real ones.
    "sim_bank_balance.balance": "simulated bank",
    "sim_bank_request.response": "simulated bank",
    "sim_csdc_request.response": "simulated China Clearing",
    "sim_csdc_unified_account.id_valid_to": "simulated China Clearing",
    "sim_trading_position.holdings": "simulated trading system",
    "sim_trading_position.in_transit": "simulated trading system",
    "sim_trading_position.credited_today": "simulated trading system",
    "sim_trading_request.response": "simulated trading system",
}

# C2 columns still stored in the clear that should not be: encrypting them changes their type and needs a
# migration that re-writes every row. Listed so that the set only shrinks; a new column cannot join it.
C2_NOT_YET_ENCRYPTED = {
    # The profile's and document's personal details.
    "customer_profile.sex", "customer_profile.birth_date", "customer_profile.postcode", "customer_profile.occupation",
    "customer_profile.education", "customer_profile.employer", "customer_profile.tax_residency",
    "customer_profile.tax_country", "customer_id_document.sex", "customer_id_document.ethnicity",
    "customer_id_document.birth_date",
    # Figures about a customer's assets and answers about their finances.
    "customer_grade.figures", "grade_change.figures", "notification.text", "suitability_assessment.answers",
    "account_closure.precheck", "customer_change.verification", "grading_import_error.raw",
    # Free text staff write about a customer, and the names of files they upload.
    "account_closure.end_reason", "account_closure_decision.reason", "account_reactivation.reason",
    "account_status_change.reason", "application_status_change.reason", "application_document.review_reason",
    "application_document.original_name", "archive_scan.original_name", "complaint.feedback_text",
    "complaint_extension.reason", "complaint_file.filename", "customer_assignment.reason",
    "customer_change.reject_reason", "customer_change_status_change.reason", "customer_duplicate_flag.review_note",
    "customer_kind_change.reason", "customer_merge.reason", "customer_merge.decision_note",
    "id_expiry_restriction.lift_reason", "lending_record.purpose", "outbox_message_event.note",
    "return_visit.notes", "return_visit.recording_name", "return_visit_case_change.reason",
    "review_decision.reason", "service_event.note", "service_record.subject", "service_record.content",
    "service_record.outcome",
}

# C3 values a server must read back to check a signature: encrypted, since a hash would not verify one.
C3_ENCRYPTED = {"reader_device.secret": "the device's HMAC key, needed to verify each signed post"}


def _columns():
    return [(f"{table.name}.{column.name}", column) for table in db.metadata.sorted_tables for column in table.columns]


def _stored_encrypted(column) -> bool:
    return isinstance(column.type, ENCRYPTED)


def test_every_column_of_every_table_is_classified(app):
    unclassified = [name for name, column in _columns() if class_of(column) not in CLASSES]
    assert unclassified == [], f"columns without info=C1|C2|C3 (core.classification): {unclassified}"


def test_the_metadata_holds_the_tables_of_every_package(app):
    # The walk above would pass on an empty metadata.
    names = {name.split(".")[0] for name, _ in _columns()}
    assert {"customer_profile", "staff", "application_step", "sim_csdc_unified_account", "audit_event"} <= names
    assert len(names) > 50


def test_every_c2_column_is_encrypted_hashed_or_justified(app):
    in_the_clear = [name for name, column in _columns() if class_of(column) == "C2" and not _stored_encrypted(column)
                    and name not in HASHES and name not in C2_IN_THE_CLEAR and name not in C2_NOT_YET_ENCRYPTED]
    assert in_the_clear == [], f"C2 columns stored in the clear: encrypt them (core.crypto) or justify: {in_the_clear}"


def test_every_c3_column_is_a_hash_or_a_justified_encrypted_key(app):
    wrong = [name for name, column in _columns() if class_of(column) == "C3"
             and not (name in HASHES and isinstance(column.type, String))
             and not (name in C3_ENCRYPTED and _stored_encrypted(column))]
    assert wrong == []


@pytest.mark.parametrize("name", sorted(HASHES))
def test_hash_columns_hold_c2_or_c3_and_are_short_strings(app, name):
    column = dict(_columns())[name]
    assert class_of(column) in ("C2", "C3")
    assert isinstance(column.type, String) and column.type.length <= 256


def test_every_encrypted_column_is_classified_c2_or_c3(app):
    # An encrypted column marked C1 would say its content needs no protection.
    wrong = [name for name, column in _columns() if _stored_encrypted(column) and class_of(column) == "C1"]
    assert wrong == []


def test_allow_lists_name_only_existing_c2_columns_stored_in_the_clear(app):
    # An entry left behind after a column is encrypted, dropped or reclassified is removed from the list.
    columns = dict(_columns())
    stale = [name for name in (*C2_IN_THE_CLEAR, *C2_NOT_YET_ENCRYPTED)
             if name not in columns or class_of(columns[name]) != "C2" or _stored_encrypted(columns[name])]
    assert stale == []
    assert not set(C2_IN_THE_CLEAR) & C2_NOT_YET_ENCRYPTED
