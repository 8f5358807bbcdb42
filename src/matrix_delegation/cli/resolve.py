"""``matrix-delegation resolve``: where federation traffic for server names goes.

IP literals are resolved by the pure core alone (step 1 of the spec asks nothing of
the network), so ``resolve 1.2.3.4`` imports neither the resolver, aiohttp, a DNS
library nor asyncio; any other name goes through :class:`~..resolver.Resolver`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .._core.explain import asked, failure_json, resolution_json, summary, told
from .._core.ipfilter import IpPolicy
from .._core.model import Resolution
from .._core.names import ServerName
from .._core.plan import Policy, plan
from .._exceptions import ConfigurationError, DelegationError, InvalidServerName
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    NO_NAMES,
    Commands,
    add_names_options,
    add_network_options,
    read_names,
    resolver_from_args,
    resolver_options,
)
from .common import run as run_loop

if TYPE_CHECKING:
    from ..resolver import Resolver
    from .pool import Job, Outcome

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
    if args.from_file is not None and args.workers > 1:
        return _run_workers(args)
    names = _collect_names(args.names, args.from_file)
    if not names:
        raise ConfigurationError(NO_NAMES)
    outcomes = _without_network(names, args)
    if outcomes is None:
        outcomes = run_loop(_resolve_all(resolver_from_args(args), names, args.concurrency))
    _print_outcomes(names, outcomes, as_json=args.json)
    return EXIT_OK if all(isinstance(o, Resolution) and o.ok for o in outcomes) else EXIT_FAILED


def _collect_names(given: list[str], from_file: str | None) -> list[str]:
    """Every name, validated up front: an invalid one is a usage error (exit 2)."""
    sourced = [(name, "argument") for name in given]
    if from_file is not None:
        sourced += read_names(from_file)
    return list(_validated(sourced))


def _validated(sourced: Iterable[tuple[str, str]]) -> Iterator[str]:
    """Each name, or :class:`InvalidServerName` saying where the first invalid one is."""
    for name, where in sourced:
        try:
            ServerName.parse(name)
        except InvalidServerName as exc:
            raise InvalidServerName(name, f"{exc.reason} ({where})") from None
        yield name


# --- several processes (--workers) ------------------------------------------------


def _run_workers(args: argparse.Namespace) -> int:
    """As :func:`run`, over ``--workers`` processes; output streams in input order."""
    from .pool import Job, WorkerFailed, WorkerPool, failed  # imports the resolver

    with _validated_twice(args.names, args.from_file) as (count, names):
        if not count:
            raise ConfigurationError(NO_NAMES)
        array = args.json and count > 1
        job = Job(
            handle=resolve_one,
            resolver_options=resolver_options(args),
            concurrency=args.concurrency,
            timeout=args.timeout,
            as_json=args.json,
            nested=array,
        )
        all_ok = True
        try:
            with WorkerPool(job, args.workers) as pool:
                for index, outcome in enumerate(pool.outcomes(names, ordered=True)):
                    all_ok &= outcome.ok
                    if array:  # the bytes json.dumps(list, indent=2) would print
                        sys.stdout.write(("[\n" if index == 0 else ",\n") + outcome.text)
                    else:
                        sys.stdout.write(outcome.text + "\n")
        except WorkerFailed as exc:
            sys.stdout.flush()
            return failed(exc)
        if array:
            sys.stdout.write("\n]\n")
    return EXIT_OK if all_ok else EXIT_FAILED


@contextlib.contextmanager
def _validated_twice(given: list[str], from_file: str) -> Iterator[tuple[int, Iterator[str]]]:
    """Count and validate every name first (a bad one is a usage error before any
    output, as in one process), then yield them again, read lazily a second time.

    Standard input cannot be read twice: it is copied to a temporary file.
    """
    with contextlib.ExitStack() as stack:
        spool = None
        if from_file == "-":
            spool = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
        count = 0
        sourced = itertools.chain(((name, "argument") for name in given), read_names(from_file))
        for name in _validated(sourced):
            count += 1
            if spool is not None and count > len(given):
                spool.write(name + "\n")
        if spool is not None:
            spool.seek(0)
            again: Iterator[str] = (line.rstrip("\n") for line in spool)
        else:
            again = (name for name, _ in read_names(from_file))
        yield count, itertools.chain(given, again)


async def resolve_one(resolver: Resolver, name: str, job: Job) -> Outcome:
    """One name in a worker process, rendered as the single-process run prints it."""
    from .pool import Outcome

    try:
        outcome: Resolution | DelegationError = await resolver.resolution(name)
    except InvalidServerName as exc:
        outcome = exc
    ok = isinstance(outcome, Resolution) and outcome.ok
    if not job.as_json:
        return Outcome(ok, _outcome_text(name, outcome))
    text = json.dumps(_outcome_json(name, outcome), indent=2)
    return Outcome(ok, textwrap.indent(text, "  ") if job.nested else text)


# --- output ----------------------------------------------------------------------


def _without_network(
    names: list[str], args: argparse.Namespace
) -> list[Resolution | DelegationError] | None:
    """Every name's resolution when the core asks no question for any (IP literals), else None.

    What the resolver would answer, as it drives the same plan with the same policy.
    Only with the default DNS and TLS settings: the resolver checks those when it is made,
    and a bad ``--dns-server`` or ``--ca-file`` must still be reported.
    """
    if args.dns_server or args.ca_file is not None or args.dns_backend is not None:
        return None
    policy = Policy(IpPolicy.default(args.allow_ip_range), tuple(args.connect_to))
    outcomes: list[Resolution | DelegationError] = []
    for name in names:
        steps = plan(ServerName.parse(name), policy, random.Random())
        try:
            next(steps)
        except StopIteration as done:
            outcomes.append(done.value)
            continue
        steps.close()  # a question: this name needs the network
        return None
    return outcomes


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
