"""The matrix-federation-tester's ``/api/report`` object, as a small schema and its validator.

Written from the tester's Go structs (``ServerReport`` and what it holds, and
gomatrixserverlib's ``KeyChecks``) and from how Go's encoding/json writes them:

* a slice that was never appended to is ``null``, never ``[]`` (:class:`NilSlice`);
  one made with ``make`` is ``[]`` when empty (:class:`Slice`);
* a map that was never made is ``null`` (``Nullable(Map(...))``);
* an ``error`` is ``null`` or ``{"Message": ...}`` once the tester wraps it;
* a field tagged ``omitempty`` is left out when empty, so when present it is
  not empty (``Field(..., omitempty=True)``).

Where our API deliberately differs (docs/web-api.md), the schema is widened or
extended at that spot only, and the line says ``OURS``. Unknown keys are errors.
:func:`validate` returns every violation as ``"path: what"``; an empty list means valid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["REPORT", "ReportAnswers", "validate"]


class Schema:
    """A JSON value's expected shape."""

    def errors(self, value: Any, path: str) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Schema):
    def errors(self, value: Any, path: str) -> list[str]:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]


@dataclass(frozen=True)
class Int(Schema):
    def errors(self, value: Any, path: str) -> list[str]:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]


@dataclass(frozen=True)
class Bool(Schema):
    def errors(self, value: Any, path: str) -> list[str]:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]


@dataclass(frozen=True)
class AnyJson(Schema):
    def errors(self, value: Any, path: str) -> list[str]:
        return []


@dataclass(frozen=True)
class Nullable(Schema):
    inner: Schema

    def errors(self, value: Any, path: str) -> list[str]:
        return [] if value is None else self.inner.errors(value, path)


@dataclass(frozen=True)
class Slice(Schema):
    """A Go slice made with ``make``: always a list, ``[]`` when empty."""

    item: Schema

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [e for i, item in enumerate(value) for e in self.item.errors(item, f"{path}[{i}]")]


@dataclass(frozen=True)
class NilSlice(Slice):
    """A Go slice only appended to: ``null`` when empty, never ``[]``."""

    def errors(self, value: Any, path: str) -> list[str]:
        if value == []:
            return [f"{path}: an empty list is null in the tester's report"]
        return [] if value is None else super().errors(value, path)


@dataclass(frozen=True)
class Map(Schema):
    """A JSON object used as a map; ``key`` names the kind of key (``address`` or ``text``)."""

    value: Schema
    key: str = "text"

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        found: list[str] = []
        for key, item in value.items():
            if self.key == "address" and not _is_address(key):
                found.append(f"{path}: {key!r} is not ip:port")
            found.extend(self.value.errors(item, f"{path}[{key!r}]"))
        return found


@dataclass(frozen=True)
class Field:
    schema: Schema
    omitempty: bool = False  # Go's omitempty: absent when empty, so never present and empty


@dataclass(frozen=True)
class Struct(Schema):
    """A Go struct: every field present unless ``omitempty``; no other key."""

    fields: dict[str, Field] = field(default_factory=dict)

    def errors(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        found = [f"{path}: unexpected key {key!r}" for key in value if key not in self.fields]
        for name, spec in self.fields.items():
            where = f"{path}.{name}"
            if name not in value:
                if not spec.omitempty:
                    found.append(f"{where}: missing")
            elif spec.omitempty and value[name] in ("", 0, None, [], {}):
                found.append(f"{where}: present but empty (Go's omitempty leaves it out)")
            else:
                found.extend(spec.schema.errors(value[name], where))
        return found


def _is_address(text: str) -> bool:
    """``ip:port`` as Go's net.JoinHostPort writes it (IPv6 in brackets)."""
    host, _, port = text.rpartition(":")
    if host.startswith("["):
        host = host[1:-1] if host.endswith("]") else ""
    elif ":" in host:
        return False  # an IPv6 address without brackets
    return bool(host) and port.isdigit()


def _fields(**fields: Schema | Field) -> dict[str, Field]:
    return {k: v if isinstance(v, Field) else Field(v) for k, v in fields.items()}


# A Go error once the tester has wrapped it (its ReportError): {"Message": "..."}.
ERROR = Struct(_fields(Message=Str()))

WELL_KNOWN = Struct(
    {
        "m.server": Field(Str()),  # the delegated name, "" when none was taken
        "result": Field(Str(), omitempty=True),  # why the lookup gave nothing
        "CacheExpiresAt": Field(Int()),  # Unix seconds; 0 when nothing was taken
    }
)

SRV_RECORD = Struct(_fields(Target=Str(), Port=Int(), Priority=Int(), Weight=Int()))

HOST = Struct(
    _fields(
        CName=Str(),  # the canonical name the lookup ended at, with a trailing dot
        Addrs=NilSlice(Str()),
        Error=Nullable(ERROR),
        Aliases=Slice(Str()),  # OURS: the CNAME owners followed
    )
)

DNS = Struct(
    _fields(
        SRVSkipped=Bool(),  # only: the name looked up has an explicit port
        SRVCName=Str(),
        SRVRecords=NilSlice(SRV_RECORD),
        SRVError=Nullable(ERROR),
        Hosts=Nullable(Map(HOST)),  # null when no DNS lookup ran at all
        Addrs=NilSlice(Str()),
    )
)

CERTIFICATE = Struct(
    _fields(
        SubjectCommonName=Str(),
        IssuerCommonName=Str(),
        SHA256Fingerprint=Str(),  # unpadded standard base64
        DNSNames=NilSlice(Str()),
    )
)

CHECKS = Struct(
    _fields(
        AllChecksOK=Bool(),
        MatchingServerName=Bool(),
        FutureValidUntilTS=Bool(),
        HasEd25519Key=Bool(),
        # The tester: null when there is no ed25519 key. OURS: always a boolean, since
        # its own page runs Object.keys over every non-boolean check and fails on null.
        AllEd25519ChecksOK=Bool(),
        Ed25519Checks=Map(Struct(_fields(ValidEd25519=Bool(), MatchingSignature=Bool()))),
        ValidCertificates=Bool(),
    )
)

CONNECTION = Struct(
    _fields(
        Certificates=NilSlice(CERTIFICATE),
        Cipher=Struct(_fields(Version=Str(), CipherSuite=Str())),
        Checks=CHECKS,
        Errors=Slice(ERROR),  # made with make(): [] when empty
        Ed25519VerifyKeys=Nullable(Map(Str())),  # null unless the key checks pass
        Info=Struct(),  # always {}
        Keys=Nullable(AnyJson()),  # OURS: null when the body is over 8 KiB
    )
)

VERSION = Struct(
    {
        "name": Field(Str(), omitempty=True),
        "version": Field(Str(), omitempty=True),
        "error": Field(Str(), omitempty=True),
    }
)

PROBLEM = Struct(_fields(code=Str(), severity=Str(), message=Str(), fix=Str()))

REPORT = Struct(
    {
        "Error": Field(Str(), omitempty=True),  # why nothing (more) was checked
        "WellKnownResult": Field(WELL_KNOWN),
        "DNSResult": Field(DNS),
        "ConnectionReports": Field(Map(CONNECTION, key="address")),
        "ConnectionErrors": Field(Map(ERROR, key="address")),
        "Version": Field(VERSION),
        "FederationOK": Field(Bool()),
        "Problems": Field(Slice(PROBLEM)),  # OURS
        "errcode": Field(Str(), omitempty=True),  # OURS: on refusals (429, 503, 400, 500)
        "retry_after_ms": Field(Int(), omitempty=True),  # OURS: with Retry-After
    }
)


def validate(document: Any) -> list[str]:
    """Every way ``document`` departs from the tester's report; [] when it does not."""
    found = REPORT.errors(document, "$")
    if found:
        return found
    return _rules(document)


def _rules(doc: dict[str, Any]) -> list[str]:
    """What the tester's code guarantees across fields."""
    found: list[str] = []
    if "Error" in doc and doc["FederationOK"]:
        found.append("$: Error is set but FederationOK is true")
    if not doc["ConnectionReports"] and doc["FederationOK"]:
        found.append("$: FederationOK is true without a connection report")
    dns = doc["DNSResult"]
    if dns["SRVSkipped"] and (dns["SRVRecords"] is not None or dns["SRVError"] is not None):
        found.append("$.DNSResult: SRV was skipped but has records or an error")
    if dns["SRVRecords"] is not None and not dns["SRVCName"]:
        found.append("$.DNSResult.SRVCName: empty though there are SRV records")
    version = doc["Version"]
    if "error" in version and ("name" in version or "version" in version):
        found.append("$.Version: both an error and a version")
    return found


class ReportAnswers:
    """Every ``GET /api/report`` answer the apps gave: status, report, violations."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, Any]] = []
        self.violations: list[str] = []

    async def record(self, request: web.Request, response: web.StreamResponse) -> None:
        if request.path != "/api/report" or request.method != "GET":
            return
        body = response.body if isinstance(response, web.Response) else None
        try:
            document = json.loads(body) if isinstance(body, bytes) else None
        except ValueError:
            document = None
        self.seen.append((response.status, document))
        if document is None:
            self.violations.append(f"{response.status}: the body is not JSON")
        else:
            query = request.query_string
            self.violations.extend(f"{query}: {found}" for found in validate(document))
