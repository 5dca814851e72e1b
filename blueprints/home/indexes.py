"""The indexes the home page's queue counts read, so a queue costs what is in it, not the whole table.

Almost every application is approved and almost every fund account active, so the planner's
statistics make a single-column status index look useless and it scanned the table instead; these
cover everything the queue queries read (status first, then who entered it and the branch), so a
range of the index is always cheaper than the scan.
"""
from sqlalchemy import Index
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from blueprints.accounts.models import FundAccount
from blueprints.opening.models import Application

# Drafts, returned and in-review applications: a clerk's own (status, created_by) or a branch's (status, then branch).
APPLICATION_QUEUES = Index("ix_application_queue", Application.status, Application.created_by_id,
                           Application.branch_id, Application.created_at)
# Accounts being opened (账户开立中), with the application they belong to.
ACCOUNTS_OPENING = Index("ix_fund_account_status", FundAccount.status, FundAccount.branch_id,
                         FundAccount.application_id, FundAccount.opened_at)
# For a branch manager the application's branch index looked more selective than these (a
# branch has 1/40 of the applications; "opening" is, by the statistics, half the accounts), so
# SQLite walked every application of the branch. rare() tells it how rare a queue's state is.
APPLICATION_BRANCH_QUEUES = Index("ix_application_branch_queue", Application.branch_id, Application.status,
                                  Application.created_at)


class rare(FunctionElement):
    """A condition few rows meet (a queue's state): SQLite's likelihood() hint; the condition as is elsewhere."""

    # No Boolean type: SQLite would compare a Boolean function's result with 1, which hides the
    # condition from the planner.
    type = NullType()
    name = "rare"
    inherit_cache = True


@compiles(rare)
def _rare_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(rare, "sqlite")
def _rare_sqlite(element, compiler, **kw):
    return f"likelihood({compiler.process(element.clauses, **kw)}, 0.001)"
