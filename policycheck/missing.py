"""The value of a fact that is not known, carrying the reason it is unknown."""
from __future__ import annotations


class Missing:
    """An unknown fact, with the reason it is unknown."""

    __slots__ = ("reason", "explicit")

    def __init__(self, reason: object, explicit: bool = False) -> None:
        self.reason = reason
        self.explicit = explicit  # a source said it is unknown (or sources disagree): not merely absent

    def __repr__(self) -> str:
        return f"<missing: {self.reason}>"
