"""The indexes the dashboard's figures read: each figure's GROUP BY is served by one of them.

They live here, beside the figures that need them, rather than in the owning tables' models;
the migration that adds them names the same columns.
"""
from sqlalchemy import Index

from blueprints.accounts.models import FundAccount
from blueprints.changes.models import CustomerChange
from blueprints.closure.models import AccountClosure
from blueprints.customers.models import Customer
from blueprints.return_visit.models import ReturnVisit

# Openings per day / per branch and channel: a range of opening times, everything the figures
# read in the index itself (the channel is copied onto the fund account).
OPENINGS = Index("ix_fund_account_opened_at_channel", FundAccount.opened_at, FundAccount.branch_id,
                 FundAccount.channel, FundAccount.status)
# Return-visit attempts in a period, with their branch (copied onto the visit) and outcome.
VISITS = Index("ix_return_visit_visited_at_branch", ReturnVisit.visited_at, ReturnVisit.branch_id,
               ReturnVisit.outcome)
# Customers per branch, kind and risk class: what `customers recount` counts the kept counts
# (customer_count, which the figures read) from.
CUSTOMERS = Index("ix_customer_branch_kind_risk", Customer.branch_id, Customer.kind, Customer.risk_class,
                  Customer.risk_lowest)
# Changes per kind and status, and closures per status, created in a period.
CHANGES = Index("ix_customer_change_created_at_stats", CustomerChange.created_at, CustomerChange.branch_id,
                CustomerChange.kind, CustomerChange.status)
CLOSURES = Index("ix_account_closure_created_at_stats", AccountClosure.created_at, AccountClosure.branch_id,
                 AccountClosure.status)
