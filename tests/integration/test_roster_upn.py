"""A panel member the partnership file knows by UPN alone is recognised the first time
they use the bot: their Entra object id is read from Teams and bound to that UPN."""

from __future__ import annotations

from pathlib import Path

from bot.settings import DEFAULT_PARTNERSHIP_FILE
from tests.integration.test_panel_http import LA_WHY, ballot, refer, said, vote
from tests.support import activities as A
from tests.support.harness import BotHarness


def _file_knowing_nina_by_upn_only(tmp_path: Path) -> Path:
    text = DEFAULT_PARTNERSHIP_FILE.read_text(encoding="utf-8")
    only_upn = text.replace(f'aad_object_id = "{A.NINA.aad}"\n', "")
    assert only_upn != text
    path = tmp_path / "partnership.toml"
    path.write_text(only_upn, encoding="utf-8")
    return path


async def test_a_member_known_by_upn_alone_can_vote_for_their_partner(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=_file_knowing_nina_by_upn_only(tmp_path)) as h:
        assert await h.c.stores.roster.has_unresolved_upns()
        await refer(h)
        body = await vote(h, A.NINA, ballot("escalation", LA_WHY))
        assert body["statusCode"] == 200 and "Vote recorded" in said(body), said(body)
        assert not await h.c.stores.roster.has_unresolved_upns()
        roles = await h.c.stores.roster.roles_of(A.NINA.aad)
        assert [p.value for p in roles.panel_partners] == ["health"]
