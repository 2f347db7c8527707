"""SDK-neutral pieces the Agents SDK edge relies on, checked without HTTP."""

from __future__ import annotations

import logging

import pytest
from botframework.connector.auth import AuthenticationConstants
from microsoft_agents.activity import Activity

from bot.adapters import signing_keys
from bot.agents.authentication import NotAuthenticated, bearer_token
from bot.agents.edge import dedupe_key, tenant_of


def test_the_metadata_urls_are_the_bot_framework_protocols():
    """bot/adapters/signing_keys.py spells them out so that it needs no SDK; botbuilder names the same."""
    assert signing_keys.CHANNEL_METADATA_URL == AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    assert signing_keys.EMULATOR_METADATA_URL == AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic abc", "bearer a b", "Bearer " + "A" * 9000])
def test_a_header_that_is_not_one_bearer_token_is_refused(header):
    with pytest.raises(NotAuthenticated):
        bearer_token(header)


def test_the_token_of_a_bearer_header():
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"


def _activity(**fields: object) -> Activity:
    return Activity.model_validate({"type": "message", "id": "a1", "conversation": {"id": "c1"}, **fields})


def test_the_tenant_comes_from_channel_data_then_the_conversation():
    assert tenant_of(_activity(channelData={"tenant": {"id": "ABC"}})) == "abc"
    assert tenant_of(_activity(conversation={"id": "c1", "tenantId": "DEF"})) == "def"
    assert tenant_of(_activity()) is None


def test_only_state_changing_activities_are_de_duplicated():
    assert dedupe_key(_activity(text="help")) is None
    assert dedupe_key(_activity(value={"verb": "x"})) == "c1|a1"
    assert dedupe_key(Activity.model_validate({"type": "invoke", "id": "i1", "conversation": {"id": "c1"}})) == "c1|i1"


def test_the_agents_sdk_logs_only_warnings_in_production_as_botbuilder_does():
    """The Agents SDK's connector client logs every send at INFO, with the conversation's id
    (connector/client/connector_client.py); production keeps it at WARNING, as botbuilder's."""
    from bot.__main__ import QUIET_LOGGERS, configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        configure_logging("INFO")
        sdk = logging.getLogger("microsoft_agents.hosting.core.connector.client.connector_client")
        assert not sdk.isEnabledFor(logging.INFO) and sdk.isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
