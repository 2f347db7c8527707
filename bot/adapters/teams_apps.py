"""Installing the bot's Teams app for a person through Microsoft Graph.

Teams lets a bot open a personal chat only with someone who has its app (installed by
them, for a team they are in, or for them by an administrator). When Teams answers 403/404
for a person, and the partnership has switched this on (TEAMS_APP_INSTALL_FOR_UNREACHABLE,
TEAMS_APP_ID), the bot installs the app for that person — `POST /users/{id}/teamwork/
installedApps` with the app catalog binding, application permission
TeamsAppInstallation.ReadWriteSelfForUser.All — and tries the message once more. Graph
answers 201 when installed and 409 when it already was.
"""

from __future__ import annotations

import logging

from bot.adapters.meetings import GraphMeetingProvider
from bot.services.ports import MeetingError

log = logging.getLogger(__name__)


class GraphAppInstaller:
    def __init__(self, graph: GraphMeetingProvider, teams_app_id: str, graph_base_url: str) -> None:
        self._graph = graph
        self._bind = f"{graph_base_url.rstrip('/')}/appCatalogs/teamsApps/{teams_app_id}"

    async def install_for(self, aad_object_id: str) -> bool:
        try:
            await self._graph.request("POST", f"/users/{aad_object_id}/teamwork/installedApps",
                                      {"teamsApp@odata.bind": self._bind})
        except MeetingError as error:
            if error.status == 409:  # already installed for them
                return True
            # The status only: the person's id stays out of the log.
            log.warning("could not install the Teams app for a person", extra={"status": error.status})
            return False
        return True
