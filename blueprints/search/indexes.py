"""The indexes the customer list reads: each equality filter followed by the list's order (newest first).

With one of them a filtered page is a walk down the index from the cursor that stops after a page,
whatever the number of customers; without, the database reads every match and sorts it. They live
here, beside the list that needs them; the migration that adds them names the same columns.
"""
from sqlalchemy import Index

from blueprints.customers.models import Customer

BY_BRANCH = Index("ix_customer_branch_created_at", Customer.branch_id, Customer.created_at, Customer.id)
BY_KIND = Index("ix_customer_kind_created_at", Customer.kind, Customer.created_at, Customer.id)
BY_RISK_CLASS = Index("ix_customer_risk_class_created_at", Customer.risk_class, Customer.created_at, Customer.id)
