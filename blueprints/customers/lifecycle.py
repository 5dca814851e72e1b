"""The customer's lifecycle (客户类别): potential, current, historical and lost, and the allowed moves."""
import enum


class CustomerKind(enum.StrEnum):
    POTENTIAL = "potential"    # 潜在
    CURRENT = "current"        # 现有
    HISTORICAL = "historical"  # 历史（已销户）
    LOST = "lost"              # 流失


KIND_LABELS = {
    CustomerKind.POTENTIAL: "潜在客户",
    CustomerKind.CURRENT: "现有客户",
    CustomerKind.HISTORICAL: "历史客户（已销户）",
    CustomerKind.LOST: "流失客户",
}

# The one table of allowed moves. A customer whose only opening failed goes back to potential;
# a closed (historical) or lost customer who opens again becomes current under the same record.
TRANSITIONS: dict[CustomerKind, frozenset[CustomerKind]] = {
    CustomerKind.POTENTIAL: frozenset({CustomerKind.CURRENT, CustomerKind.LOST}),
    CustomerKind.CURRENT: frozenset({CustomerKind.POTENTIAL, CustomerKind.HISTORICAL, CustomerKind.LOST}),
    CustomerKind.HISTORICAL: frozenset({CustomerKind.CURRENT}),
    CustomerKind.LOST: frozenset({CustomerKind.CURRENT, CustomerKind.POTENTIAL}),
}


class IllegalKindChange(Exception):
    def __init__(self, current: CustomerKind, target: CustomerKind):
        super().__init__(f"{current} -> {target} is not allowed")
        self.current, self.target = current, target


def check_kind_change(current: str, target: str) -> None:
    if CustomerKind(target) not in TRANSITIONS[CustomerKind(current)]:
        raise IllegalKindChange(CustomerKind(current), CustomerKind(target))
