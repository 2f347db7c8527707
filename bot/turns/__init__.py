"""What a turn does, for either Teams edge: the card verb table (routes.py), its actions
(*_actions.py), the typed commands (commands.py), `Reply`, and where an activity came from
(places.py). Nothing here imports an SDK: what needs one (member reads, sending a reply) is
behind the ports of ports.py, which each edge implements (bot/teams/ on botbuilder,
bot/agents/ on the Microsoft 365 Agents SDK)."""
