"""The access gate (bot/services/access.py) on the in-memory stores: which places serve
cases, who has a role on a case, and that a refusal reads the same for a case that exists
and one that does not. No HTTP, no database."""

from __future__ import annotations

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.services import access
from bot.services.access import CASE_DENIED, Place, Where
from bot.services.ports import Address
from bot.services.referrals import PANEL_CHANNEL
from tests.unit.services.flow import LAURA, PAT, RILEY, db, services, submit

TENANT = "00000000-0000-0000-0000-0000000000aa"
PANEL_CHAT = "19:rapid-review-panel@thread.tacv2"
MALLORY = Actor(aad_object_id="00000000-0000-0000-0000-00000000a0ff", name="Mallory Outsider", tenant_id=TENANT)


def personal(tenant: str = TENANT) -> Where:
    return Where("personal", "a:personal", tenant_id=tenant)


def channel(conversation_id: str = PANEL_CHAT) -> Where:
    return Where("channel", conversation_id, channel_id=conversation_id, team_id="19:team", tenant_id=TENANT)


async def bound_services():  # type: ignore[no-untyped-def]
    ctx = await services()
    await ctx.roster.bind_channel(PANEL_CHANNEL, Address(PANEL_CHAT, "https://smba.trafficmanager.net/uk/", TENANT,
                                                         "28:bot"), "19:team", PANEL_CHAT, PAT, ctx.clock.now())
    return ctx


async def test_only_the_bound_channel_and_personal_chats_serve_cases() -> None:
    ctx = await services()
    assert await access.place_of(ctx, channel()) is Place.ELSEWHERE, "no channel is the panel's until bound"
    ctx = await bound_services()
    assert await access.place_of(ctx, channel()) is Place.PANEL_CHANNEL
    assert await access.place_of(ctx, personal()) is Place.PERSONAL
    assert await access.place_of(ctx, channel("19:another@thread.tacv2")) is Place.ELSEWHERE
    assert await access.place_of(ctx, Where("groupChat", "19:group@thread.v2", tenant_id=TENANT)) is Place.ELSEWHERE
    assert await access.place_of(ctx, personal("11111111-0000-0000-0000-000000000000")) is Place.ELSEWHERE


async def test_a_stranger_is_refused_alike_for_a_real_and_a_missing_case_and_each_refusal_is_audited() -> None:
    ctx = await bound_services()
    case = await submit(ctx)
    reference = case.summary.reference
    real = await access.case_gate(ctx, personal(), MALLORY, "panel.open", reference)
    missing = await access.case_gate(ctx, personal(), MALLORY, "panel.open", "RR-2026-0999")
    assert (real.allowed, real.refusal, real.status) == (missing.allowed, missing.refusal, missing.status) == (
        False, CASE_DENIED, 403)
    denied = db(ctx).events(None, EventKind.ACCESS_DENIED)
    assert [e.detail for e in denied] == [{"action": "panel.open", "reference": reference},
                                          {"action": "panel.open", "reference": "RR-2026-0999"}]

    assert (await access.case_gate(ctx, personal(), RILEY, "panel.open", reference)).allowed, "the referrer"
    assert not (await access.case_gate(ctx, personal(), RILEY, "panel.open", "RR-2026-0999")).allowed
    for who in (PAT, LAURA):
        gate = await access.case_gate(ctx, channel(), who, "panel.vote", reference)
        assert gate.allowed and gate.roles is not None and gate.roles.may_see_identifiers


async def test_outside_the_panel_channel_nothing_about_the_case_is_read_or_recorded() -> None:
    ctx = await bound_services()
    case = await submit(ctx)
    gate = await access.case_gate(ctx, channel("19:another@thread.tacv2"), PAT, "panel.vote", case.summary.reference)
    assert not gate.allowed and gate.refusal == "This bot works in the Example Safeguarding Children Partnership channel."
    [event] = db(ctx).events(None, EventKind.ACCESS_DENIED)
    assert event.detail == {"action": "panel.vote", "where": "outside"} and event.case_id is None
