"""The benchmark's bot on the Microsoft 365 Agents SDK edge, while that edge is not complete.

`python tests/bench/agents_edge_bot.py` starts exactly what `python -m bot` starts (same settings,
same environment variables; the benchmark sets TEAMS_EDGE=agents), after switching off, in this
process only, start-up's refusal of the incomplete edge (`refuse_incomplete_edge` in bot/app.py,
which names what is missing: file consent, proactive sends through this SDK, training mode). None
of those is in the benchmark's dialog and vote workloads; the card updates a vote causes go
through the botbuilder notifier, as on the botbuilder edge.

No setting reaches this: a deployment with TEAMS_EDGE=agents is still refused. Only
tests/bench/bench.py uses it (`--agents-edge`).
"""

from __future__ import annotations

import sys


def install() -> None:
    """Let the composition root build the incomplete edge."""
    import bot.app

    def allow_incomplete_edge() -> None:
        """The benchmark measures what there is of the edge (see the module docstring)."""

    bot.app.refuse_incomplete_edge = allow_incomplete_edge


def main() -> int:
    install()
    from bot.__main__ import main as bot_main

    return bot_main()


if __name__ == "__main__":
    sys.exit(main())
