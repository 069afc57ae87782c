"""Job files: one TOML file per migration wave, validated up front.

A job says where to migrate to (``[target]``), what to migrate (``[[mailbox]]``
and ``[[application]]`` sources, each with the mapping it uses), how Notes
names become Entra accounts (``[identity]``), where progress is kept
(``[job] state``), how hard to push (``concurrency``) and what to leave out
(``[filters]``).  Paths are relative to the job file.  Secrets are never in
the file: a client secret is named by the environment variable that holds it.

Every error is one line naming the file, the line and the key, with the
unknown-key check catching typos::

    samples/demo.toml:21: mailbox[1].mailbx: unknown key (known: folders, mailbox, mapping, source)

:func:`load_job` returns a frozen :class:`Job`; command-line flags override
fields through ``overrides``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError
from .mapping import resolve_reference
from .tomlfile import KeyPath, TomlFile, load_toml

AuthKind = Literal["client_secret", "certificate", "device_code", "none"]
SourceKind = Literal["mailbox", "application"]
ADDRESS = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEYS = {"client_secret", "secret", "password", "certificate_password"}
DEFAULT_STATE = "notes2m365-state.sqlite"


@dataclass(frozen=True)
class Target:
    """Where to write: Microsoft 365 (tenant + app registration) or an emulator (``graph_url``)."""

    graph_url: str = "https://graph.microsoft.com/v1.0"
    tenant_id: str | None = None
    client_id: str | None = None
    auth: AuthKind = "none"
    client_secret_env: str | None = None
    certificate: str | None = None
    certificate_password_env: str | None = None

    @property
    def is_emulator(self) -> bool:
        return not self.graph_url.startswith("https://graph.microsoft.com")


@dataclass(frozen=True)
class Source:
    """One mailbox or application: its DXL files and where and how they go."""

    kind: SourceKind
    pattern: str  # as written in the job file
    files: tuple[str, ...]  # resolved, sorted
    target: str  # mailbox UPN, or SharePoint site ("host:/sites/x" or its URL)
    mapping: str  # "builtin:NAME" or a path
    folders: str | None = None  # folder manifest (mailboxes)
    line: int | None = None
    #: applications: where documents with Readers fields go: "skip" (not migrated, reported) or another site
    #: whose permissions the admin has restricted (Graph cannot narrow an item's inherited permissions)
    restricted: str = "skip"


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    forms: tuple[str, ...] = ()
    exclude_forms: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdentitySettings:
    """The ``[identity]`` table: the CSV map and the rules handed to :mod:`notes2m365.identity`."""

    map: str | None = None
    fallback_domain: str | None = None
    pattern: str = "{first}.{last}"
    fallback_orgs: tuple[str, ...] = ()
    internet_domains: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


LargeAttachmentPolicy = Literal["onedrive", "draft", "skip"]


@dataclass(frozen=True)
class MigrateSettings:
    """The ``[migrate]`` table: how the executor behaves (limits and policies, one set per job).

    ``large_attachments``: what happens to an attachment over 3 MB on a message that is not a draft, where
    Graph's upload session is undocumented (graph-semantics §2): ``onedrive`` puts the file in the mailbox
    owner's OneDrive and links it from the message; ``draft`` keeps the message a draft and attaches the file
    through an upload session; ``skip`` leaves the message out and reports it.  Never silent.
    """

    large_attachments: LargeAttachmentPolicy = "onedrive"
    onedrive_folder: str = "Notes attachments"
    item_attempts: int = 3  # per item, first attempt included (request-level retries happen inside each)
    requests_per_second: float = 100.0  # global cap of this process; 0 = none
    mailbox_concurrency: int = 4  # Outlook's 4 concurrent requests per app and mailbox (graph-semantics §8.1)
    batch_size: int = 20  # creates per $batch (1 = no batching; Graph's maximum is 20, §7)
    #: seconds a request of a crashed run may still be carried out by Graph (the request timeout): an item
    #: that run had started and that is not found yet is looked up again once this has passed, before it is
    #: created, so a write still in flight when the process died is not made twice
    in_flight_grace: float = 100.0
    #: Outlook's request limit per app and mailbox (graph-semantics §8.1), kept by the client itself: a client
    #: that finds it through 429s fills the window with its own rejected requests (they count too)
    mailbox_requests: int = 10_000
    mailbox_window_s: float = 600.0
    #: list items and files written at once per application source (SharePoint limits resource units per
    #: minute, not concurrency: graph-semantics §8.2)
    site_workers: int = 4
    #: sources planned at once in worker processes, ahead of the migration (0 = automatic: one fewer than
    #: there are cores, up to 4, for a job of 4 sources or more; 1 = none, in the migrating process)
    plan_processes: int = 0

    def planning_workers(self, sources: int) -> int:
        """Worker processes that plan sources ahead of the migration; 0 = planned in the migrating process.

        Automatic: a core is left to the migrating process (its event loop, HTTP and state store take about
        a third of the CPU of a plain message).  On two cores that is one worker: measured on 20 sources, one
        worker spent 0.61 ms of CPU per message where two spent 0.64 (a second start-up, and two planners
        sharing the cores with the migration); planning took 6 s instead of 3.5 s, well ahead of mailboxes
        that each take minutes."""
        if self.plan_processes:
            return self.plan_processes if self.plan_processes > 1 else 0
        cores = os.cpu_count() or 1
        return min(4, cores - 1) if sources >= 4 and cores > 1 else 0


@dataclass(frozen=True)
class Job:
    path: str
    name: str
    target: Target
    sources: tuple[Source, ...]
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    state: str = DEFAULT_STATE
    concurrency: int = 4
    filters: Filters = field(default_factory=Filters)
    migrate: MigrateSettings = field(default_factory=MigrateSettings)

    @property
    def mailboxes(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.kind == "mailbox")

    @property
    def applications(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.kind == "application")


# -- reading ------------------------------------------------------------------------------------------------
class _Reader:
    """Typed access to one table of a TomlFile with file:line errors and an unknown-key check."""

    def __init__(self, toml: TomlFile, path: KeyPath, table: object, known: set[str]) -> None:
        self.toml, self.path = toml, path
        if not isinstance(table, dict):
            raise toml.error(path, "must be a table")
        self.table = table
        for key in table:
            if key in SECRET_KEYS:
                raise toml.error(path + (key,), "secrets do not belong in job files; name the environment "
                                                "variable that holds it (client_secret_env)")
            if key not in known:
                raise toml.error(path + (key,), f"unknown key (known: {', '.join(sorted(known))})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if key not in self.table:
            if required:
                raise self.toml.error(self.path, f"'{key}' is required")
            return default
        value = self.table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.toml.error(self.path + (key,), f"must be {_type_name(kind)}, not true/false")
        if not isinstance(value, kind):
            raise self.toml.error(self.path + (key,), f"must be {_type_name(kind)}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v for v in value):
            raise self.toml.error(self.path + (key,), "must be a list of non-empty strings")
        return tuple(value)

    def fail(self, key: str, message: str) -> ConfigError:
        return self.toml.error(self.path + (key,), message)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table",
             date: "a date (YYYY-MM-DD)"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_job(path: str | Path, overrides: dict[str, Any] | None = None) -> Job:
    """Read, validate and resolve a job file; ``overrides`` (from command-line flags) replace its values:
    ``graph_url``, ``state``, ``concurrency``, and the filters ``since``, ``until``, ``forms``."""
    toml = load_toml(path)
    base = Path(path).resolve().parent
    top = _Reader(toml, (), toml.data, {"job", "target", "identity", "filters", "migrate", "mailbox",
                                         "application"})
    job_table = _Reader(toml, ("job",), top.get("job", dict, {}), {"name", "state", "concurrency"})
    name = job_table.get("name", str, Path(path).stem)
    state = job_table.get("state", str, DEFAULT_STATE)
    concurrency = job_table.get("concurrency", int, 4)
    if not 1 <= concurrency <= 64:
        raise job_table.fail("concurrency", "must be between 1 and 64")
    target = _target(toml, top.get("target", dict, required=True))
    sources = tuple(_sources(toml, base, top, "mailbox") + _sources(toml, base, top, "application"))
    if not sources:
        raise toml.error((), "no [[mailbox]] or [[application]] source: nothing to migrate")
    seen: dict[str, Source] = {}
    for source in sources:
        for f in source.files:
            if f in seen:
                raise toml.error((source.kind,), f"{f} is already a source at line {seen[f].line}")
            seen[f] = source
    job = Job(path=str(path), name=name, target=target, sources=sources,
              identity=_identity(toml, base, top.get("identity", dict, {})),
              state=os.path.normpath(base / state),
              concurrency=concurrency, filters=_filters(toml, top.get("filters", dict, {})),
              migrate=_migrate(toml, top.get("migrate", dict, {})))
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "graph_url":
            job = replace(job, target=replace(job.target, graph_url=_check_url(value, lambda m: ConfigError(
                f"--graph-url: {m}"))))
        elif key in ("state", "concurrency"):
            job = replace(job, **{key: value})
        elif key in ("since", "until", "forms"):
            job = replace(job, filters=replace(job.filters, **{key: tuple(value) if key == "forms" else value}))
            if job.filters.since and job.filters.until and job.filters.until < job.filters.since:
                raise ConfigError(f"--until {job.filters.until} is before since = {job.filters.since}")
        else:
            raise ConfigError(f"unknown override {key!r}")
    return job


def _check_url(url: str, fail: Any) -> str:
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise fail(f"'{url}' is not an http(s) URL")
    if url.startswith("http://") and not re.match(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$)", url):
        # the SDK's authentication provider refuses plain http except on loopback (graph-semantics §9.2)
        raise fail(f"'{url}': plain http is only for an emulator on localhost; use https")
    return url.rstrip("/")


def _target(toml: TomlFile, table: dict[str, Any]) -> Target:
    r = _Reader(toml, ("target",), table, {"graph_url", "tenant_id", "client_id", "auth", "client_secret_env",
                                           "certificate", "certificate_password_env"})
    graph_url = _check_url(r.get("graph_url", str, Target.graph_url), lambda m: r.fail("graph_url", m))
    auth = r.get("auth", str, "none" if not graph_url.startswith("https://graph.microsoft.com") else None)
    if auth is None:
        raise toml.error(("target",), "'auth' is required for Microsoft 365 (client_secret, certificate or "
                                      "device_code)")
    if auth not in ("client_secret", "certificate", "device_code", "none"):
        raise r.fail("auth", "must be client_secret, certificate, device_code or none")
    tenant, client = r.get("tenant_id", str), r.get("client_id", str)
    if auth != "none":
        for key, value in (("tenant_id", tenant), ("client_id", client)):
            if value is None:
                raise toml.error(("target",), f"'{key}' is required with auth = \"{auth}\"")
            if not GUID.match(value) and not (key == "tenant_id" and "." in value):
                raise r.fail(key, f"'{value}' is not a GUID" + (" or a tenant domain" if key == "tenant_id" else ""))
    secret_env = r.get("client_secret_env", str)
    if auth == "client_secret" and not secret_env:
        raise toml.error(("target",), "'client_secret_env' is required with auth = \"client_secret\": the name "
                                      "of the environment variable holding the secret")
    for key in ("client_secret_env", "certificate_password_env"):
        value = r.get(key, str)
        if value is not None and not ENV_NAME.match(value):
            raise r.fail(key, f"'{value}' is not an environment variable name")
    certificate = r.get("certificate", str)
    if auth == "certificate" and not certificate:
        raise toml.error(("target",), "'certificate' is required with auth = \"certificate\"")
    return Target(graph_url=graph_url, tenant_id=tenant, client_id=client, auth=auth,  # type: ignore[arg-type]
                  client_secret_env=secret_env, certificate=certificate,
                  certificate_password_env=r.get("certificate_password_env", str))


def _sources(toml: TomlFile, base: Path, top: _Reader, kind: SourceKind) -> list[Source]:
    entries = top.get(kind, list, [])
    out = []
    target_key = "mailbox" if kind == "mailbox" else "site"
    known = {"source", "mapping", target_key} | ({"folders"} if kind == "mailbox" else {"restricted"})
    for n, entry in enumerate(entries):
        r = _Reader(toml, (kind, n), entry, known)
        pattern = r.get("source", str, required=True)
        files = tuple(sorted(str(Path(f)) for f in glob.glob(str(base / pattern), recursive=True)
                             if Path(f).is_file()))
        if not files:
            raise r.fail("source", f"'{pattern}' matches no file (paths are relative to the job file)")
        target = r.get(target_key, str, required=True)
        if kind == "mailbox" and not ADDRESS.match(target):
            raise r.fail(target_key, f"'{target}' is not a mailbox address (user@domain)")
        if kind == "application" and not re.match(r"^(https://)?[A-Za-z0-9.-]+(:?/.*)?$", target):
            raise r.fail(target_key, f"'{target}' is not a SharePoint site (https://host/sites/name or "
                                     "host:/sites/name)")
        mapping = r.get("mapping", str, "builtin:mail" if kind == "mailbox" else None)
        if mapping is None:
            raise toml.error((kind, n), "'mapping' is required for an application (builtin:NAME or a file)")
        if mapping.startswith("builtin:"):
            try:
                resolve_reference(mapping)
            except ConfigError as exc:
                raise r.fail("mapping", str(exc).split(": ", 1)[1])
        else:
            resolved = base / mapping
            if not resolved.is_file():
                raise r.fail("mapping", f"'{mapping}' is not a file (paths are relative to the job file)")
            mapping = str(resolved)
        folders = r.get("folders", str) if kind == "mailbox" else None
        if folders is not None:
            if not (base / folders).is_file():
                raise r.fail("folders", f"'{folders}' is not a file")
            folders = str(base / folders)
        restricted = r.get("restricted", str, "skip") if kind == "application" else "skip"
        if restricted != "skip":
            if not re.match(r"^(https://)?[A-Za-z0-9.-]+(:?/.*)?$", restricted):
                raise r.fail("restricted", f"'{restricted}' is neither skip nor a SharePoint site")
            if restricted.rstrip("/").lower() == target.rstrip("/").lower():
                raise r.fail("restricted", "must be another site than the source's own (one whose permissions "
                                           "are restricted), or skip")
        out.append(Source(kind=kind, pattern=pattern, files=files, target=target, mapping=mapping,
                          folders=folders, line=toml.line((kind, n)), restricted=restricted))
    return out


def _identity(toml: TomlFile, base: Path, table: dict[str, Any]) -> IdentitySettings:
    r = _Reader(toml, ("identity",), table, {"map", "fallback_domain", "pattern", "fallback_orgs",
                                             "internet_domains", "ignore"})
    mapping = r.get("map", str)
    if mapping is not None:
        if not (base / mapping).is_file():
            raise r.fail("map", f"'{mapping}' is not a file")
        mapping = str(base / mapping)
    domain = r.get("fallback_domain", str)
    if domain is not None and not re.match(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", domain):
        raise r.fail("fallback_domain", f"'{domain}' is not a domain name")
    pattern = r.get("pattern", str, "{first}.{last}")
    unknown = set(re.findall(r"{(\w*)}", pattern)) - {"first", "last", "cn"}
    if unknown:
        raise r.fail("pattern", f"unknown placeholder {{{sorted(unknown)[0]}}} (use {{first}}, {{last}}, {{cn}})")
    return IdentitySettings(map=mapping, fallback_domain=domain, pattern=pattern,
                            fallback_orgs=r.strings("fallback_orgs"), internet_domains=r.strings("internet_domains"),
                            ignore=r.strings("ignore"))


def _filters(toml: TomlFile, table: dict[str, Any]) -> Filters:
    r = _Reader(toml, ("filters",), table, {"since", "until", "forms", "exclude_forms", "folders"})
    since, until = r.get("since", date), r.get("until", date)
    for key, value in (("since", since), ("until", until)):
        if isinstance(value, datetime):
            raise r.fail(key, "must be a date (YYYY-MM-DD), not a date and time")
    if since and until and until < since:
        raise r.fail("until", f"{until} is before since = {since}")
    forms, exclude = r.strings("forms"), r.strings("exclude_forms")
    both = sorted({f.lower() for f in forms} & {f.lower() for f in exclude})
    if both:
        raise r.fail("exclude_forms", f"'{both[0]}' is both included and excluded")
    return Filters(since=since, until=until, forms=forms, exclude_forms=exclude, folders=r.strings("folders"))


def _migrate(toml: TomlFile, table: dict[str, Any]) -> MigrateSettings:
    r = _Reader(toml, ("migrate",), table, {"large_attachments", "onedrive_folder", "item_attempts",
                                            "requests_per_second", "mailbox_concurrency", "batch_size",
                                            "in_flight_grace", "mailbox_requests", "mailbox_window_s",
                                            "site_workers", "plan_processes"})
    d = MigrateSettings()
    policy = r.get("large_attachments", str, d.large_attachments)
    if policy not in ("onedrive", "draft", "skip"):
        raise r.fail("large_attachments", "must be onedrive, draft or skip")
    folder = r.get("onedrive_folder", str, d.onedrive_folder).strip().strip("/")
    if not folder or any(c in folder for c in '"*:<>?\\|'):
        raise r.fail("onedrive_folder", f"'{folder}' is not a valid OneDrive folder path")
    attempts = r.get("item_attempts", int, d.item_attempts)
    if not 1 <= attempts <= 20:
        raise r.fail("item_attempts", "must be between 1 and 20")
    rps = r.get("requests_per_second", (int, float), d.requests_per_second)
    if rps < 0:
        raise r.fail("requests_per_second", "must be 0 (no cap) or more")
    mailbox_concurrency = r.get("mailbox_concurrency", int, d.mailbox_concurrency)
    if not 1 <= mailbox_concurrency <= 4:
        raise r.fail("mailbox_concurrency", "must be between 1 and 4 (Outlook allows 4 concurrent requests)")
    batch = r.get("batch_size", int, d.batch_size)
    if not 1 <= batch <= 20:
        raise r.fail("batch_size", "must be between 1 and 20 (Graph's $batch limit)")
    grace = r.get("in_flight_grace", (int, float), d.in_flight_grace)
    if not 0 <= grace <= 3600:
        raise r.fail("in_flight_grace", "must be between 0 and 3600 seconds")
    mailbox_requests = r.get("mailbox_requests", int, d.mailbox_requests)
    if mailbox_requests < 0:
        raise r.fail("mailbox_requests", "must be 0 (not kept by the client) or more")
    window = r.get("mailbox_window_s", (int, float), d.mailbox_window_s)
    if not 0 < window <= 86_400:
        raise r.fail("mailbox_window_s", "must be more than 0 and at most 86400 seconds")
    site_workers = r.get("site_workers", int, d.site_workers)
    if not 1 <= site_workers <= 64:
        raise r.fail("site_workers", "must be between 1 and 64")
    plan_processes = r.get("plan_processes", int, d.plan_processes)
    if not 0 <= plan_processes <= 32:
        raise r.fail("plan_processes", "must be between 0 (automatic) and 32")
    return MigrateSettings(large_attachments=policy, onedrive_folder=folder, item_attempts=attempts,
                           site_workers=site_workers, plan_processes=plan_processes,
                           requests_per_second=float(rps), mailbox_concurrency=mailbox_concurrency,
                           batch_size=batch, in_flight_grace=float(grace), mailbox_requests=mailbox_requests,
                           mailbox_window_s=float(window))
