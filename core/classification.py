"""Classes of personal financial information (JR/T 0171-2020) that every column carries in its `info`.

C3: what authenticates (password hashes, one-time codes); never shown, never logged.
C2: personal information (ID numbers, phones, addresses, bank cards, assets, scans, recordings):
    encrypted at rest and masked on display.
C1: the rest (dates, branches, statuses, references).
Use as `mapped_column(..., info=C2)`.
"""
C1 = {"pii_class": "C1"}
C2 = {"pii_class": "C2"}
C3 = {"pii_class": "C3"}
CLASSES = ("C1", "C2", "C3")


def class_of(column) -> str | None:
    """The class a table column was given, or None when it was not classified."""
    return column.info.get("pii_class")
