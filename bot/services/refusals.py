"""Why a use case said no: every refusal the services raise, in one place.

The edge maps each kind to one reply (bot/turns/routes.py): the message is written for
the person who pressed or typed, `field` puts it next to an input on the card, and
`audit` (when set) is the reason recorded as a tamper event — a press that one of our
own cards could not have sent.
"""

from __future__ import annotations


class Refused(Exception):
    """The action was refused; the message says why, in words for the person who acted."""

    def __init__(self, message: str, field: str | None = None, *, audit: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.audit = audit


class NotAuthorised(Refused):
    """The actor's roles (from the database, never from a card) do not allow this."""


class PanelRefused(Refused):
    """A vote, a query or an answer was refused (closed round, bad input, not a member)."""


class ClockRefused(Refused):
    """A deadline action was refused (unknown step, already done, implausible date)."""


class MeetingRefused(Refused):
    """A meeting action was refused (no meeting, a time outside working days, bad input)."""


class IllegalMove(Refused):
    """A case was asked to move to a status its lifecycle does not allow from where it is."""
