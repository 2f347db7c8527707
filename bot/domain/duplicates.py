"""What makes two referrals likely the same incident: the same incident date and a child with
the same name and date of birth. Only the normalised "name|date of birth" of each child leaves
here, and only to be hashed under a key (bot/adapters/db/case_store.py): identifiers are never
compared in SQL."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.referral import Referral

_NOT_LETTERS = re.compile(r"[^a-z]+")


def normal_name(name: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes do not make a different child:
    "Zoë O'Neil-Smith" and "zoe oneil smith" are the same."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LETTERS.sub("", letters)


def identities(referral: Referral) -> list[str]:
    """One "name|date of birth" per child whose date of birth is known (an estimated age alone
    is too weak to call two referrals the same)."""
    found = {f"{normal_name(c.name)}|{c.date_of_birth.isoformat()}" for c in referral.children.children
             if c.date_of_birth is not None and normal_name(c.name)}
    return sorted(found)
