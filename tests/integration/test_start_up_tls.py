"""Start-up builds the outgoing clients' TLS context in a worker thread (bot/app.py, `start`), so
the first turn's reply does not load the CA bundle on the event loop."""

from __future__ import annotations

import threading

from bot.adapters import outbound_http
from bot.app import bootstrap, start, stop
from bot.settings import Settings


async def _warmed_at_start(tmp_path) -> bool:  # noqa: ANN001 - pytest's tmp_path
    """Start the bot's components (no outbox or scheduler) and wait for the TLS warm-up's result."""
    components = bootstrap(Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'bot.db'}"}))
    try:
        await start(components, run_outbox=False)
        return await components.extras["tls_context"]
    finally:
        await stop(components)


async def test_start_up_builds_the_tls_context_off_the_loop_before_any_turn(tmp_path, monkeypatch) -> None:
    built_in: list[str] = []
    real = outbound_http._ssl_context.__wrapped__

    def recording(bundle, directory):  # noqa: ANN001, ANN202 - the cached function's own arguments
        built_in.append(threading.current_thread().name)
        return real(bundle, directory)

    monkeypatch.setattr(outbound_http, "_ssl_context", recording)
    assert await _warmed_at_start(tmp_path) is True
    assert len(built_in) == 1 and built_in[0] != threading.main_thread().name


async def test_a_ca_bundle_that_cannot_be_read_is_said_at_start_up(tmp_path, monkeypatch, caplog) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert await _warmed_at_start(tmp_path) is False
    assert "the CA bundle could not be loaded" in caplog.text
