"""The agents a check asks as, and what their answers became (plain values).

See :mod:`.agents` for the fetches and the verdicts; docs/peers.md ("User
agents") gives the source of each agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["AGENTS", "EXTRA_REQUESTS", "Agent", "AgentFacts", "AgentRow", "Fetches", "Seen"]

Outcome = Literal["same", "blocked", "challenge", "different", "error"]


@dataclass(frozen=True, slots=True)
class Agent:
    """A User-Agent header (None: no header at all) and the implementations that send it."""

    user_agent: str | None
    implementations: tuple[str, ...]

    @property
    def label(self) -> str:
        """How the agent is named in messages."""
        return self.user_agent if self.user_agent is not None else "(no User-Agent header)"


#: The releases the agents were read from (docs/peers.md has the sources).
SYNAPSE_USER_AGENT = "Synapse/1.163.2"
CONTINUWUITY_USER_AGENT = "continuwuity/0.5.0 (bot; +https://continuwuity.org)"
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

#: One entry per distinct agent; "browser" is not a homeserver, a browser-like control.
AGENTS: Final = (
    Agent(SYNAPSE_USER_AGENT, ("synapse",)),
    # Go's default over HTTP/1.1 (WAF rules match the prefix "Go-http-client/").
    Agent("Go-http-client/1.1", ("dendrite", "federation-tester")),
    Agent(None, ("conduit",)),  # reqwest sends no User-Agent unless told to
    Agent(CONTINUWUITY_USER_AGENT, ("continuwuity",)),
    Agent(BROWSER_USER_AGENT, ("browser",)),
)
MAX_AGENTS: Final = 6
assert len(AGENTS) <= MAX_AGENTS
#: The most requests the agents add to one check.
EXTRA_REQUESTS: Final = 1 + 2 * len(AGENTS)


@dataclass(frozen=True, slots=True)
class Seen:
    """One answer, reduced to what is compared.

    Attributes:
        status: The HTTP status, or None when no response came.
        signature: What the body says (``m.server``, or the key server name and
            key IDs), so that re-signed key responses still compare equal.
        challenge: Why it is a bot challenge or CDN block page, or None.
        error: Why no response came.
    """

    status: int | None
    signature: str = ""
    challenge: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Fetches:
    """One URL: our answer, then each agent's in the order of :data:`AGENTS` (none if skipped)."""

    url: str
    ours: Seen
    theirs: tuple[Seen, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """What the agent fetches found, and the headers of our ``.well-known`` answer."""

    well_known: Fetches | None = None
    keys: Fetches | None = None
    well_known_headers: tuple[tuple[str, str], ...] = ()
    fetched_at: float | None = None  # when our .well-known answer came
    requests: int = 0


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One line of the ``user_agents`` table."""

    implementation: str
    user_agent: str | None
    url: str
    status: int | None
    outcome: Outcome
