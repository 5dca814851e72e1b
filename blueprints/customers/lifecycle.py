"""The customer's lifecycle (客户类别): potential, current, historical and lost, and the allowed moves."""
import enum


class CustomerKind(enum.StrEnum):
    POTENTIAL = "potential"    # 潜在
    CURRENT = "current"        # 现有
    HISTORICAL = "historical"  # 历史（已销户）
    LOST = "lost"              # 流失
    MERGED = "merged"          # 已合并（并入同一人的另一客户记录）


KIND_LABELS = {
    CustomerKind.POTENTIAL: "潜在客户",
    CustomerKind.CURRENT: "现有客户",
    CustomerKind.HISTORICAL: "历史客户（已销户）",
    CustomerKind.LOST: "流失客户",
    CustomerKind.MERGED: "已合并客户",
}

# States after which the record takes no new business: read through the archive (closed) or
# through the customer it was merged into.
ENDED = frozenset({CustomerKind.HISTORICAL, CustomerKind.MERGED})

# The one table of allowed moves. A customer whose only opening failed goes back to potential;
# a closed (historical) or lost customer who opens again becomes current under the same record.
# A record found to be a second one of the same person is merged (a reviewed business, blueprints/merges)
# only once it holds no live account; a merged record never moves again.
TRANSITIONS: dict[CustomerKind, frozenset[CustomerKind]] = {
    CustomerKind.POTENTIAL: frozenset({CustomerKind.CURRENT, CustomerKind.LOST, CustomerKind.MERGED}),
    CustomerKind.CURRENT: frozenset({CustomerKind.POTENTIAL, CustomerKind.HISTORICAL, CustomerKind.LOST}),
    CustomerKind.HISTORICAL: frozenset({CustomerKind.CURRENT, CustomerKind.MERGED}),
    CustomerKind.LOST: frozenset({CustomerKind.CURRENT, CustomerKind.POTENTIAL, CustomerKind.MERGED}),
    CustomerKind.MERGED: frozenset(),
}


class IllegalKindChange(Exception):
    def __init__(self, current: CustomerKind, target: CustomerKind):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current, self.target = current, target


def check_kind_change(current: str, target: str) -> None:
    if CustomerKind(target) not in TRANSITIONS[CustomerKind(current)]:
        raise IllegalKindChange(CustomerKind(current), CustomerKind(target))
