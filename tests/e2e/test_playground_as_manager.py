"""Smoke test as someone else: Playground restarted with Pat Manager (a partnership manager) as its current user."""

from __future__ import annotations

import pytest

from tests.e2e import playground as pg
from tests.e2e.playground import expect
from tests.e2e.tenant import config_as


@pytest.fixture
def playground_config(e2e_workdir):
    return config_as("29:pat-manager", e2e_workdir)


def test_a_partnership_manager_binds_the_panel_channel(page, shot) -> None:
    expect(page.get_by_text("Pat Manager").first).to_be_visible()  # the page's current user

    pg.open_channel(page, "Rapid Review Panel")
    thread = pg.post(page, "@Rapid Review use this channel for the panel")
    card = pg.card_with(thread, "Panel channel set")
    expect(card).to_be_visible()
    assert pg.card_text(card).splitlines()[:2] == [
        "Panel channel set", "New referrals will be posted here for the virtual panel."]
    expect(thread.get_by_text("Only a partnership manager")).to_have_count(0)
    thread.scroll_into_view_if_needed()
    shot("panel-channel-set")
