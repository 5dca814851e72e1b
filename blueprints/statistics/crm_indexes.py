"""The indexes the CRM figures read (crm.py); the migration that adds them names the same columns.

Kept apart from indexes.py (the built-in figures') so each set is found beside its figures.
"""
from sqlalchemy import Index

from blueprints.service.models import Complaint, ServiceRecord

# Service records per kind and status created in a period, per branch: read from the index alone.
SERVICE_RECORDS = Index("ix_service_record_created_at_stats", ServiceRecord.created_at, ServiceRecord.branch_id,
                        ServiceRecord.kind, ServiceRecord.status)
# Complaints received in a period, by channel and category; the record (branch, status) found by its key.
COMPLAINTS = Index("ix_complaint_received_on_stats", Complaint.received_on, Complaint.record_id, Complaint.channel,
                   Complaint.category)
