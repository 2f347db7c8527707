"""An advisory ("other") member of the virtual panel (Stockport Rapid Review Process (2019),
Appendix A, section 2: council, police, health, other): on the roster from the partnership
file or by `add @Name as other`, sees the case like a panel member, and never votes."""

from __future__ import annotations

import pytest

from bot.domain.case import Actor
from bot.domain.partnership import Person, Role
from bot.services import deadlines, membership, panel
from bot.services.channels import seed_members_from_config
from bot.services.membership import TeamsPerson
from bot.services.refusals import PanelRefused
from tests.support.fakes import memory_services
from tests.unit.services.flow import PAT, RATIONALE, submit

OLIVE = Actor(aad_object_id="00000000-0000-0000-0000-00000000a0e1", name="Olive Other")


async def _with_adviser():  # noqa: ANN202
    ctx = memory_services()
    adviser = Person(name=OLIVE.name, aad_object_id=OLIVE.aad_object_id, organisation="Designated doctor")
    object.__setattr__(ctx, "partnership", ctx.partnership.model_copy(update={"panel_advisers": [adviser]}))
    await seed_members_from_config(ctx)
    return ctx


async def test_an_adviser_from_the_partnership_file_sees_cases_and_cannot_vote() -> None:
    ctx = await _with_adviser()
    roles = await ctx.roster.roles_of(OLIVE.aad_object_id)
    assert roles.adviser and roles.may_see_identifiers and not roles.panel_partners
    case = await submit(ctx)
    timeline = await deadlines.timeline(ctx, OLIVE, case.reference)  # refused to anyone off the roster
    assert timeline.case.reference == case.reference
    with pytest.raises(PanelRefused, match="Only the statutory partners' panel members can vote"):
        await panel.cast_vote(ctx, OLIVE, case.reference, choice="rapid_review", rationale=RATIONALE,
                              serious_harm_basis="Long-term impairment is likely.", question=None, card_round=None)
    members = await ctx.roster.members(Role.ADVISER)
    assert [m.name for m in members] == ["Olive Other"]


@pytest.mark.parametrize("word", ["other", "adviser", "advisor"])
async def test_a_manager_adds_an_adviser_as_other(word: str) -> None:
    ctx = memory_services()
    await seed_members_from_config(ctx)
    person = TeamsPerson(aad_object_id=OLIVE.aad_object_id, name=OLIVE.name, teams_id="29:olive")
    record = await membership.add_member(ctx, PAT, person, word)
    assert record.role is Role.ADVISER and record.partner is None
    assert (await ctx.roster.roles_of(OLIVE.aad_object_id)).adviser
