"""The app-only Microsoft Graph token, for every Graph adapter (meetings, channel messages).

MSAL's application is built on first use, in a worker thread: it fetches the authority's
metadata with blocking HTTP when constructed, which must stall neither start-up nor the
event loop. It talks through `requests`, given the CA bundle and the proxy variables
(bot/adapters/outbound_http.py), with instance discovery off so only the configured
authority host is contacted.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.outbound_http import MSAL_TIMEOUT, requests_verify

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]


class GraphToken:
    def __init__(self, *, tenant_id: str, client_id: str, client_credential: str | dict[str, str],
                 authority_host: str = "https://login.microsoftonline.com", http_client: Any = None) -> None:
        self._app: Any = None
        self.msal_args = {"client_id": client_id, "client_credential": client_credential,
                          "authority": f"{authority_host.rstrip('/')}/{tenant_id}", "http_client": http_client}

    def acquire(self) -> dict[str, Any]:
        """MSAL's answer (from its cache while the token is fresh); blocking: run it in a thread."""
        if self._app is None:
            import msal

            args = dict(self.msal_args)
            if args["http_client"] is None:  # requests, with the bundle and the proxy variables
                del args["http_client"]
                args["verify"] = requests_verify()
            self._app = msal.ConfidentialClientApplication(**args, instance_discovery=False, timeout=MSAL_TIMEOUT)
        return self._app.acquire_token_for_client(scopes=GRAPH_SCOPE)
