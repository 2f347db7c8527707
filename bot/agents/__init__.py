"""The second Teams edge, on the Microsoft 365 Agents SDK (TEAMS_EDGE=agents; README, "The Agents
SDK edge"): `/api/messages` (edge.py), token checks (authentication.py), kept connector clients
(connector.py) and the turns (application.py). Only this package imports the Agents SDK, and it
never imports the botbuilder edge (bot/teams/), nor that one it."""
