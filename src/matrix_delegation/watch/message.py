"""An event's payload as a message for a person: plain text and HTML (Matrix, e-mail)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from .._core.jsondoc import read_json

__all__ = ["MAX_PAYLOAD", "Message", "message"]

#: Bound on a stored payload read back (a check report is tens of KiB at most).
MAX_PAYLOAD = 4 * 1024 * 1024
_MAX_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Message:
    """One event, for a person."""

    event_id: str  # the payload's "id" (empty when it could not be read)
    subject: str
    text: str
    html: str
    report: str  # the check report, as indented JSON


def message(body: bytes) -> Message:
    """The message of a stored payload (docs/watch.md); a payload that cannot be read
    still gives a message, saying so."""
    document = read_json(body, max_bytes=MAX_PAYLOAD)
    payload: dict[str, Any] = document.value if isinstance(document.value, dict) else {}
    summary = str(payload.get("summary") or "an event (its payload could not be read)")
    report = payload.get("report") if isinstance(payload.get("report"), dict) else {}
    assert isinstance(report, dict)
    problems = [p for p in report.get("problems") or () if isinstance(p, dict)][:_MAX_PROBLEMS]
    lines = [summary]
    items = []
    for problem in problems:
        code, text, fix = (str(problem.get(key, "")) for key in ("code", "message", "fix"))
        severity = str(problem.get("severity", ""))
        lines += [f"- [{severity}] {code}: {text}", f"  fix: {fix}"]
        items.append(
            f"<li><b>{html.escape(code)}</b> ({html.escape(severity)}): {html.escape(text)}"
            f"<br>fix: {html.escape(fix)}</li>"
        )
    formatted = f"<p><b>{html.escape(summary)}</b></p>"
    if items:
        formatted += "<ul>" + "".join(items) + "</ul>"
    event = str(payload.get("event") or "event")
    return Message(
        event_id=str(payload.get("id") or ""),
        subject=f"[matrix-delegation] {event}: {payload.get('server_name', '')}",
        text="\n".join(lines),
        html=formatted,
        report=json.dumps(report, indent=2, sort_keys=True),
    )
