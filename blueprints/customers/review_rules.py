"""Maker ≠ checker for the businesses after opening (changes, closure, reactivation): who may decide."""
from core.roles import Role


def checker_refusal(reviewer, *, maker_ids: set[int], branch_id: int, business: str) -> str | None:
    """Why `reviewer` may not decide this business, in Chinese, or None if they may.

    The same rules as opening review: a reviewer of the business's branch (HQ reviewers for any),
    never someone who entered or changed it.
    """
    if reviewer.role != Role.REVIEWER:
        return f"只有复核岗可以复核{business}"
    if not reviewer.sees_all_branches and reviewer.branch_id != branch_id:
        return f"只能复核本营业部的{business}"
    if reviewer.id in maker_ids:
        return "您经办了该业务，不能复核自己经办的业务"
    return None
