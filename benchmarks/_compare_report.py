"""compare.py's figures as ratios, targets, a table and a section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

HEADING = "## Side by side (`benchmarks/compare.py`)"
HEADINGS = {  # one section of docs/benchmarks.md per --servers
    "python": HEADING,
    "nginx-dnsmasq": "## Side by side, names served by nginx and dnsmasq (`benchmarks/compare.py`)",
}
WHO_SERVES = {
    "python": "resolve_fanout's sandbox: our DNS server and an aiohttp HTTPS host, in Python",
    "nginx-dnsmasq": "the same names and records served by nginx and dnsmasq",
}
IMPLEMENTATIONS = ("ours", "synapse", "resolvematrix")


def figure(report: dict[str, Any], *path: str) -> float | None:
    """A number deep in the report, or None where it was not measured."""
    value: Any = report
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def ratio(top: float | None, bottom: float | None) -> float | None:
    """top / bottom to two places, or None when either is missing."""
    return round(top / bottom, 2) if top is not None and bottom else None


def tls_limit(report: dict[str, Any]) -> float | None:
    """Fresh handshakes + GET per second against nginx, the better of 1 and N clients."""
    return figure(report, "tls", "limit_per_s")


def ratios(report: dict[str, Any]) -> dict[str, float | None]:
    """Ours over theirs, and our cold rate over the TLS-handshake limit."""
    cold = {name: figure(report, name, "cold", "names_per_s") for name in IMPLEMENTATIONS}
    warm = {name: figure(report, name, "warm", "lookups_per_s") for name in IMPLEMENTATIONS}
    cache_only = figure(report, "synapse", "warm", "cache_only_lookups_per_s")
    found: dict[str, float | None] = {
        "cold ours/synapse": ratio(cold["ours"], cold["synapse"]),
        "cold ours/resolvematrix": ratio(cold["ours"], cold["resolvematrix"]),
        "cold ours/tls limit": ratio(cold["ours"], tls_limit(report)),
        "cold synapse/tls limit": ratio(cold["synapse"], tls_limit(report)),
        "cold resolvematrix/tls limit": ratio(cold["resolvematrix"], tls_limit(report)),
        "warm ours/synapse": ratio(warm["ours"], warm["synapse"]),
        "warm ours/synapse caches only": ratio(warm["ours"], cache_only),
        "warm ours/resolvematrix": ratio(warm["ours"], warm["resolvematrix"]),
    }
    serve = report.get("serve", {})
    for label, value in (serve.get("ratios") or {}).items():
        found[label] = value
    return found


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The comparison targets, each with the figure it is judged on and whether it is met."""
    found = report.get("ratios") or ratios(report)
    nginx = [found.get("serve/nginx https"), found.get("serve/nginx http")]
    synapse = [found.get("serve/synapse http"), found.get("serve/synapse https")]
    memory = figure(report, "memory", "bytes_per_cached_name")
    rows = [
        (
            "cold ≥ 3 \u00d7 Synapse's names/s, same concurrency",
            found["cold ours/synapse"],
            3.0,
            "\u00d7",
        ),
        ("cold ≥ 60 % of the TLS-handshake limit", found["cold ours/tls limit"], 0.6, "\u00d7"),
        ("warm ≥ 50 \u00d7 Synapse's lookups/s", found["warm ours/synapse"], 50.0, "\u00d7"),
        ("serve ≥ 0.5 \u00d7 nginx (HTTPS and HTTP)", _lowest(nginx), 0.5, "\u00d7"),
        ("serve ≥ 3 \u00d7 Synapse serving its own .well-known", _lowest(synapse), 3.0, "\u00d7"),
    ]
    result = [
        {"target": label, "measured": value, "unit": unit, "met": _at_least(value, bound)}
        for label, value, bound, unit in rows
    ]
    result.append(
        {
            "target": "memory per cached name ≤ 2 KiB",
            "measured": memory,
            "unit": "bytes",
            "met": None if memory is None else memory <= 2048,
        }
    )
    return result


def _at_least(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def _lowest(values: list[Any]) -> float | None:
    present = [float(value) for value in values if isinstance(value, int | float)]
    return min(present) if len(present) == len(values) else None


def _number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _why_missing(report: dict[str, Any], name: str) -> str:
    part = report.get(name) or {}
    return str(part.get("not_measured") or part.get("error") or "")


def rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per implementation: cold, latencies, RSS, warm, right answers."""
    found = []
    for name in IMPLEMENTATIONS:
        why = _why_missing(report, name)
        if why:
            found.append([name, f"not measured: {why}", "", "", "", "", "", ""])
            continue
        found.append(
            [
                name,
                _number(figure(report, name, "cold", "names_per_s"), 1),
                _number(figure(report, name, "cold", "p50_ms")),
                _number(figure(report, name, "cold", "p99_ms")),
                _number(figure(report, name, "cold", "peak_rss_mib"), 1),
                _percent(figure(report, name, "cold", "servers_share")),
                _number(figure(report, name, "warm", "lookups_per_s")),
                f"{_number(figure(report, name, 'cold', 'right'))} / {report['names']:,}",
            ]
        )
    return found


COLUMNS = [
    "resolver",
    "cold names/s",
    "p50 ms",
    "p99 ms",
    "peak RSS MiB",
    "servers' CPU",
    "warm lookups/s",
    "right",
]


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def _measured(target: dict[str, Any]) -> str:
    if target["unit"] == "bytes":
        return f"{_number(target['measured'])} bytes"
    return f"{_number(target['measured'], 2)} \u00d7"


def table(report: dict[str, Any]) -> str:
    """The human-readable report."""
    widths = [14, 14, 8, 8, 13, 13, 15, 12]
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths, strict=True)) for r in rows(report)]
    lines.append("")
    lines += limit_lines(report.get("tls") or {})
    memory = figure(report, "memory", "bytes_per_cached_name")
    lines.append(f"memory per cached name (ours): {_number(memory)} bytes")
    lines += ["", *(f"{k}: {_number(v, 2)}" for k, v in report["ratios"].items()), ""]
    lines += [f"{_verdict(t['met']):>12}  {t['target']}: {_measured(t)}" for t in report["targets"]]
    return "\n".join(lines)


def docs_section(report: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md, generated from one run."""
    machine = report["machine"]
    versions = ", ".join(
        f"{key} {machine.get(key, '?')}"
        for key in ("matrix-delegation", "synapse", "resolvematrix", "python", "openssl (python)")
    )
    servers = report.get("servers", "python")
    head = [
        HEADINGS[servers],
        "",
        "Generated by the command below; edit the script, not this section.",
        "",
        "```sh",
        report["command"],
        "```",
        "",
        f"{report['date']}: {machine['cores']} cores ({machine['cpu']}), {machine['arch']}, "
        f"Linux {machine['kernel']}; {versions}; {machine.get('nginx', '?')}. Load average "
        f"{report['load_average'][0]:.1f} at the start and {report['load_average'][1]:.1f} at "
        "the end: other sessions shared the machine, so compare the ratios (same run) rather "
        "than the absolute rates.",
        "",
        f"{report['names']} names delegated by `.well-known` then SRV ({WHO_SERVES[servers]}), "
        f"{report['concurrency']} at a time, each implementation in a fresh process "
        "with empty caches; names per second over the whole batch, start-up excluded. "
        "Servers' CPU: the CPU time of the servers' processes during the cold run, as a share "
        "of its wall time \u00d7 the cores.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row) + " |" for row in rows(report)),
        "",
    ]
    return "\n".join(head + _limits(report) + _targets_table(report) + NOTES) + "\n"


def limit_lines(limit: dict[str, Any]) -> list[str]:
    """The machine's limit (``_machine_limit``), one line per client set-up, or why not."""
    if "error" in limit or "limit_per_s" not in limit:
        return [f"machine limit: not measured ({limit.get('error', 'no figures')})"]
    found = []
    for key in ("one_process", "per_core"):
        run = limit[key]
        found.append(
            f"machine limit, {run['processes']} client process(es): "
            f"{_number(run['handshakes_per_s'], 1)} fresh TLS handshakes + GET per second "
            f"(client CPU {run['client_cpu_ms_per_handshake']} ms, nginx CPU "
            f"{run['nginx_cpu_ms_per_handshake']} ms per handshake)"
        )
    found.append(f"machine limit (the higher): {_number(limit['limit_per_s'], 1)} per second")
    return found


def _limits(report: dict[str, Any]) -> list[str]:
    memory = figure(report, "memory", "bytes_per_cached_name")
    found = report["ratios"]
    tls = report.get("tls") or {}
    cold = ", ".join(
        f"{name} {_number(found.get(f'cold {name}/tls limit'), 2)} \u00d7"
        for name in IMPLEMENTATIONS
    )
    return [
        *(f"- {line}." for line in limit_lines(tls)),
        f"- Cold names per second over the machine limit: {cold}.",
        f"- Warm, Synapse's two caches alone (.well-known and SRV, no address lookup): "
        f"ours is {_number(found['warm ours/synapse caches only'], 2)} \u00d7 that.",
        f"- Memory per cached name (ours, resolve_fanout's tracemalloc slope): "
        f"{_number(memory)} bytes.",
        "- Serving (`benchmarks/serve.py --json`): "
        + ", ".join(
            f"{k} {_number(v, 2)} \u00d7" for k, v in found.items() if k.startswith("serve/")
        ),
        "",
    ]


def _targets_table(report: dict[str, Any]) -> list[str]:
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [
        f"| {t['target']} | {_measured(t)} | {_verdict(t['met'])} |" for t in report["targets"]
    ]
    return [*lines, ""]


NOTES_TEXT = """
How each is driven: ours is `Resolver` as the command line runs it (uvloop). Synapse is its
`WellKnownResolver` as `MatrixFederationAgent` builds it, `MatrixHostnameEndpoint`'s SRV step
(`SrvResolver`) and the A/AAAA of the first target through its blocklisting name resolver, in
its reactor (epoll), with a `DeferredSemaphore`; SRV via
`twisted.names.client.Resolver(servers=[sandbox])`, A/AAAA via the conformance driver's reactor
name resolver asking the same server (never getaddrinfo), a configuration parsed by Synapse
(`federation_custom_ca_list` = the sandbox CA, loopback let through `ip_range_whitelist`), and
its log output below ERROR dropped. Synapse caches `.well-known` and SRV but not addresses, so
its warm lookups still ask DNS for A/AAAA, as in production. resolvematrix runs its synchronous
`ServerResolver` from as many threads as the concurrency, in a private mount namespace whose
bind-mounted resolv.conf names the sandbox DNS (its httpx fetch resolves through getaddrinfo);
its `resolve` writes its cache but never reads it, so its warm figure is `cache.get(name)`, what
a caller would do.
"""
NOTES = [" ".join(NOTES_TEXT.split()), ""]


def write_docs(path: Path, section: str) -> None:
    """Replace the section in ``path`` (up to the next ``## ``), or append it."""
    text = path.read_text()
    heading = section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")
