"""The panel roster card (`@Rapid Review members` in the panel channel)."""

from __future__ import annotations

from bot.domain.partnership import Partner, Role
from bot.services.ports import MemberRecord
from cards.budget import fit
from cards.common import Element, card, heading, literal, para, subheading
from cards.common import person as shown


def members_card(members: list[MemberRecord]) -> Element:
    body: list[Element] = [heading("Panel roster", size="Medium")]
    groups: list[tuple[str, list[MemberRecord]]] = [
        (partner.title, [m for m in members if m.role is Role.PANEL and m.partner is partner]) for partner in Partner
    ]
    groups += [("Chairs", [m for m in members if m.role is Role.CHAIR]),
               ("Partnership managers", [m for m in members if m.role is Role.MANAGER]),
               ("Data protection officers", [m for m in members if m.role is Role.DPO]),
               ("Other panel members (advisory, do not vote)", [m for m in members if m.role is Role.ADVISER])]
    for title, people in groups:
        body.append(subheading(title))
        if not people:
            body.append(para("Nobody yet", subtle=True))
        for member in people:
            where = f" — {shown(member.organisation)}" if member.organisation else ""
            added = " (added in Teams)" if member.source == "teams" else ""
            body.append(literal(f"{shown(member.name)}{where}{added}"))
    body.append(para("Partnership managers change it here: **@Rapid Review add @Name as police** (or local "
                     "authority, health, chair, partnership manager), **@Rapid Review remove @Name**.", size="Small",
                     subtle=True))
    return fit(card(body))  # a very large roster: names shortened for display
