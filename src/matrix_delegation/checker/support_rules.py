"""The support file's judging rules: ``/.well-known/matrix/support`` (docs/design.md §3.2).

A pure function from what :func:`~.client.fetch` got to a
:class:`~.client_model.SupportReport`; :mod:`.client` runs it after fetching
and re-exports it.
"""

from __future__ import annotations

from typing import Any, Final

from .._core.jsondoc import json_type as _json_type
from .._core.names import is_support_role, is_user_id
from .client_model import Fetched, SupportReport
from .client_rules import _https_error, _json_object, _show
from .codes import Problem, problem

__all__ = ["judge_support"]


# --- the support file ---------------------------------------------------------------------


def judge_support(fetched: Fetched) -> SupportReport:
    """Judge a fetched ``/.well-known/matrix/support`` against the spec (MSC1929, v1.10)."""
    url = fetched.url

    def report(findings: list[Problem], *, present: bool, document: Any = None) -> SupportReport:
        valid = present and not any(f.code == "support-invalid" for f in findings)
        return SupportReport(url, fetched.status, present, valid, document, tuple(findings))

    if fetched.failure == "too-large":
        message = f"{url}: {fetched.error}"
        return report([problem("support-invalid", message)], present=True)
    if fetched.error is not None:
        where = fetched.final_url
        return report([problem("support-unreachable", f"{where}: {fetched.error}")], present=False)
    if fetched.status == 404:
        message = f"{url} answers 404: no support contacts are published"
        return report([problem("support-missing", message)], present=False)
    if fetched.status != 200:
        message = f"{url} answers HTTP {fetched.status}"
        return report([problem("support-unreachable", message)], present=False)
    document, error = _json_object(fetched.body)
    if document is None:
        return report([problem("support-invalid", f"{url}: {error}")], present=True)
    problems = [
        problem("support-invalid", f"{url}: {p}", fix) for p, fix in _support_problems(document)
    ]
    return report(problems, present=True, document=document)


def _support_problems(document: dict[str, object]) -> list[tuple[str, str | None]]:
    """(what is wrong, a fix when a more precise one helps) for a parsed support file."""
    problems: list[tuple[str, str | None]] = []
    has_contacts = "contacts" in document
    has_page = "support_page" in document
    if not has_contacts and not has_page:
        return [("it has neither contacts nor support_page; at least one is required", None)]
    if has_page:
        page = document["support_page"]
        if not isinstance(page, str) or _https_error(page) is not None:
            why = (
                f"is a JSON {_json_type(page)}, not a string"
                if not isinstance(page, str)
                else _https_error(page)
            )
            problems.append(
                (
                    f"support_page {_show(page)} {why}",
                    "Set support_page to the https URL of a web page where users get help.",
                )
            )
    if has_contacts:
        contacts = document["contacts"]
        if not isinstance(contacts, list):
            problems.append((f"contacts is a JSON {_json_type(contacts)}, not an array", None))
        elif not contacts and not has_page:
            problems.append(("contacts is empty and there is no support_page", None))
        else:
            for index, contact in enumerate(contacts):
                problems.extend(_contact_problems(index, contact))
    return problems


_CONTACT_FIX: Final = (
    'Give every contact a "role" (m.role.admin or m.role.security) and a "matrix_id"'
    ' (such as @admin:example.com) and/or an "email_address".'
)


def _contact_problems(index: int, contact: object) -> list[tuple[str, str | None]]:
    where = f"contacts[{index}]"
    if not isinstance(contact, dict):
        return [(f"{where} is a JSON {_json_type(contact)}, not an object", _CONTACT_FIX)]
    problems: list[tuple[str, str | None]] = []
    role = contact.get("role")
    if role is None:
        problems.append((f"{where} has no role", _CONTACT_FIX))
    elif not isinstance(role, str):
        problems.append((f"{where}.role is a JSON {_json_type(role)}, not a string", _CONTACT_FIX))
    elif not is_support_role(role):
        message = f"{where}.role {role!r} is neither m.role.admin, m.role.security nor namespaced"
        problems.append((message, _CONTACT_FIX))
    matrix_id = contact.get("matrix_id")
    email = contact.get("email_address")
    if matrix_id is None and email is None:
        problems.append((f"{where} has neither matrix_id nor email_address", _CONTACT_FIX))
    if matrix_id is not None and not is_user_id(matrix_id):
        problems.append((f"{where}.matrix_id {_show(matrix_id)} is not a user ID", _CONTACT_FIX))
    if email is not None and not (isinstance(email, str) and "@" in email.strip("@")):
        message = f"{where}.email_address {_show(email)} is not an email address"
        problems.append((message, _CONTACT_FIX))
    return problems
