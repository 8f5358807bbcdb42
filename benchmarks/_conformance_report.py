"""Verdicts and the report of ``conformance.py``: JSON, a terminal table, Markdown."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import _explanations

__all__ = ["build", "markdown", "text_table", "verdict"]

LABELS = {
    "ours": "matrix-delegation (ours)",
    "synapse": "Synapse",
    "resolvematrix": "resolvematrix",
}
PACKAGES = {"ours": "matrix-delegation", "synapse": "matrix-synapse",
            "resolvematrix": "resolvematrix"}  # fmt: skip
COMMAND = "python benchmarks/conformance.py --write docs/conformance.md"


def verdict(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``("matches" | "differs" | "not run", what differs)`` for one outcome."""
    if "not_run" in outcome:
        return "not run", [outcome["not_run"]]
    if "error" in expect:
        if outcome.get("error") == expect["error"]:
            return "matches", []
        return "differs", [f"error {expect['error']} expected"]
    if outcome.get("error"):
        return "differs", [f"failed ({outcome['error']})"]
    differences = []
    if outcome.get("route") != expect["route"]:
        differences.append("route")
    if outcome.get("endpoint") not in expect["endpoints"]:
        differences.append("endpoint")
    if outcome.get("host") != expect["host"]:
        differences.append("Host")
    if outcome.get("tls") != expect["tls"]:
        differences.append("TLS name")
    return ("differs" if differences else "matches"), differences


def describe(outcome: Mapping[str, Any]) -> str:
    """What an implementation did, in one line."""
    if "not_run" in outcome:
        return f"not run: {outcome['not_run']}"
    if outcome.get("error"):
        detail = outcome.get("detail", "")
        return f"error {outcome['error']}" + (f" ({detail[:90]})" if detail else "")
    return (
        f"{outcome.get('route')} → {outcome.get('endpoint')}, Host {outcome.get('host')}, "
        f"TLS {outcome.get('tls')}"
    )


def required(expect: Mapping[str, Any]) -> str:
    """What the spec requires, in one line."""
    if "error" in expect:
        return f"error {expect['error']}"
    endpoints = " or ".join(expect["endpoints"])
    return f"{expect['route']} → {endpoints}, Host {expect['host']}, TLS {expect['tls']}"


def _version(package: str) -> str:
    try:
        return str(version(package))
    except PackageNotFoundError:
        return "not installed"


def build(
    scenarios: Sequence[Mapping[str, Any]],
    implementations: Sequence[str],
    results: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> dict[str, Any]:
    """The whole run as one JSON-able document."""
    rows = []
    for scenario in scenarios:
        row: dict[str, Any] = {key: scenario[key] for key in ("id", "about", "server_name")}
        row |= {"expect": scenario["expect"], "basis": scenario["basis"], "results": {}}
        for implementation in implementations:
            found = results.get(implementation, {})
            outcome = found.get(scenario["id"]) or found.get("*") or {"not_run": "no outcome"}
            state, differences = verdict(scenario["expect"], outcome)
            row["results"][implementation] = {
                **outcome,
                "verdict": state,
                "differences": differences,
            }
        rows.append(row)
    return {
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "versions": {name: _version(PACKAGES[name]) for name in implementations},
        "implementations": list(implementations),
        "scenarios": rows,
    }


def _cell(result: Mapping[str, Any]) -> str:
    if result["verdict"] == "matches":
        return "✅ matches"
    if result["verdict"] == "not run":
        return "- " + describe(result)
    return f"❌ differs ({', '.join(result['differences'])}): {describe(result)}"


def text_table(document: Mapping[str, Any]) -> str:
    """A plain listing for the terminal."""
    lines = []
    for row in document["scenarios"]:
        lines.append(f"{row['id']} ({row['server_name']}): {required(row['expect'])}")
        for name, result in row["results"].items():
            lines.append(f"    {name:14} {_cell(result)}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _summary(document: Mapping[str, Any]) -> list[str]:
    """One line per implementation: how many scenarios match the spec."""
    rows = document["scenarios"]
    lines = []
    for name in document["implementations"]:
        verdicts = [row["results"][name]["verdict"] for row in rows]
        differs = [row["id"] for row in rows if row["results"][name]["verdict"] == "differs"]
        line = f"- {LABELS[name]}: {verdicts.count('matches')} of {len(rows)} match"
        if verdicts.count("not run"):
            line += f", {verdicts.count('not run')} not run"
        lines.append(line + (f"; differs on {', '.join(differs)}" if differs else ""))
    return lines


def markdown(document: Mapping[str, Any]) -> str:
    """The Markdown report: header, table, and a sentence per disagreement."""
    names = document["implementations"]
    versions = ", ".join(f"{LABELS[n]} {document['versions'][n]}" for n in names)
    out = [
        "# Conformance: our resolver, Synapse's and resolvematrix's, on the same scenarios",
        "",
        f"_Generated by `{COMMAND}` on {document['generated']}; do not edit by hand._",
        "",
        f"- Machine: {document['machine']}, Python {document['python']}",
        f"- Versions: {versions}",
        f"- Scenarios: {len(document['scenarios'])} (defined in `benchmarks/scenarios.py`)",
        "",
        *_explanations.PREAMBLE,
        "",
        "| Scenario | Spec requires | " + " | ".join(LABELS[n] for n in names) + " |",
        "|---" * (2 + len(names)) + "|",
    ]
    for row in document["scenarios"]:
        spec = f"{required(row['expect'])}<br>_basis: {row['basis']}_"
        cells = [_cell(row["results"][n]) for n in names]
        head = f"**{row['id']}** `{row['server_name']}`<br>{row['about']}"
        out.append("| " + " | ".join(_escape(c) for c in (head, spec, *cells)) + " |")
    out += ["", *_summary(document), "", "## Disagreements, and who is right", ""]
    sentences = _explanations.sentences(document)
    out += [f"- {sentence}" for sentence in sentences] or ["None: every implementation agrees."]
    return "\n".join(out) + "\n"
