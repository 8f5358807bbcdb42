"""``matrix-delegation resolve``: where federation traffic for server names goes."""

from __future__ import annotations

import argparse
import json

from .._core.explain import asked, failure_json, resolution_json, summary, told
from .._core.model import Resolution
from .._core.names import ServerName
from .._exceptions import ConfigurationError, DelegationError, InvalidServerName
from ..resolver import Resolver
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    NO_NAMES,
    Commands,
    add_names_options,
    add_network_options,
    read_names,
    resolver_from_args,
)
from .common import run as run_loop

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands, help: str) -> None:
    """Add ``resolve`` and its options."""
    parser = commands.add_parser(
        "resolve", help=help, description="Resolve server names by the spec's discovery steps."
    )
    add_names_options(
        parser,
        names_help="server names to resolve",
        from_file_help="read names from FILE, one per line ('-': stdin)",
        json_help="print JSON (docs/resolve-json.md)",
        concurrency_help="resolve at most N names at once (default 50)",
    )
    add_network_options(parser)


def run(args: argparse.Namespace) -> int:
    """Resolve every name; 0 when all resolved, 1 otherwise."""
    names = _collect_names(args.names, args.from_file)
    if not names:
        raise ConfigurationError(NO_NAMES)
    outcomes = run_loop(_resolve_all(resolver_from_args(args), names, args.concurrency))
    _print_outcomes(names, outcomes, as_json=args.json)
    return EXIT_OK if all(isinstance(o, Resolution) and o.ok for o in outcomes) else EXIT_FAILED


def _collect_names(given: list[str], from_file: str | None) -> list[str]:
    """Every name, validated up front: an invalid one is a usage error (exit 2)."""
    sourced = [(name, "argument") for name in given]
    if from_file is not None:
        sourced += read_names(from_file)
    for name, where in sourced:
        try:
            ServerName.parse(name)
        except InvalidServerName as exc:
            raise InvalidServerName(name, f"{exc.reason} ({where})") from None
    return [name for name, _ in sourced]


async def _resolve_all(
    resolver: Resolver, names: list[str], concurrency: int
) -> list[Resolution | DelegationError]:
    async with resolver:
        return list(await resolver.resolve_all(names, concurrency=concurrency))


def _print_outcomes(
    names: list[str], outcomes: list[Resolution | DelegationError], *, as_json: bool
) -> None:
    if as_json:
        objects = [_outcome_json(name, o) for name, o in zip(names, outcomes, strict=True)]
        print(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2))
        return
    for name, outcome in zip(names, outcomes, strict=True):
        print(_outcome_text(name, outcome))


def _outcome_json(name: str, outcome: Resolution | DelegationError) -> dict[str, object]:
    if isinstance(outcome, Resolution):
        return resolution_json(outcome)
    code = getattr(outcome, "code", "error")
    return failure_json(name, code, str(outcome))


def _outcome_text(name: str, outcome: Resolution | DelegationError) -> str:
    if not isinstance(outcome, Resolution):
        return f"{name}\n  failed: {outcome}\n"
    lines = [name]
    for entry in outcome.trace:
        question = asked(entry)
        answer = f" -> {told(entry)}" if question else ""
        mark = {"info": " ", "warning": "!", "error": "x"}[entry.level]
        lines.append(f" {mark} step {entry.step:<4} {question}{answer}".rstrip())
        lines.append(f"              {entry.rule}")
    if outcome.route is not None:
        lines.append(f"  route {outcome.route.value} (step {outcome.route.spec_step})")
    lines.append(f"  {summary(outcome)}")
    return "\n".join(lines) + "\n"
