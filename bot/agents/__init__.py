"""The second Teams edge, on the Microsoft 365 Agents SDK (TEAMS_EDGE=agents; README, "The Agents
SDK edge"): `/api/messages` (edge.py), token checks (authentication.py), kept connector clients
(connector.py), the referral form's dialog state (storage.py) and the turns (application.py). Only
this package and the form's Agents SDK dialog (dialogs/agents_referral_dialog.py) import the Agents
SDK, and it never imports the botbuilder edge (bot/teams/), nor that one it."""
