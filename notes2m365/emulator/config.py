"""The emulator's settings: serving, throttling, fault injection and behaviour switches.

Every limit the emulator enforces is a field here, so that tests can shrink a
window from ten minutes to two seconds and an operator can rehearse against
the published limits.  Behaviours that ``graph-semantics.md`` marks
UNCONFIRMED are switches whose default is the conservative choice: the one
under which a client that works against the emulator also works against Graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MB = 1024 * 1024


@dataclass
class ThrottleConfig:
    """Published Graph limits (graph-semantics.md §8); ``enabled=False`` is ``--no-throttle``."""

    enabled: bool = True
    # Outlook, per (application, mailbox): throttling-limits.md "Outlook service limits".
    mailbox_concurrency: int = 4
    mailbox_requests: int = 10_000
    mailbox_window_s: float = 600.0
    mailbox_upload_bytes: int = 150 * 1000 * 1000  # "150 MB": the smaller reading of MB
    mailbox_upload_window_s: float = 300.0
    # SharePoint resource units per application per minute, 0-1k licences (SPDOCS).
    sharepoint_units: int = 1200
    sharepoint_window_s: float = 60.0
    sharepoint_status: int = 429  # SPDOCS: 429 or 503, both with Retry-After
    # throttling.md shows "Retry-After: 2.128"; kiota's parser fails on it (graph-semantics §9.4).
    fractional_retry_after: bool = False


@dataclass
class FaultConfig:
    """Fault injection, off by default (``--latency-ms``, ``--fault-rate``, ``--seed``)."""

    latency_ms: int = 0
    fault_rate: float = 0.0
    seed: int = 0
    # Which faults may be drawn: "503", "504", "reset" (before the handler runs),
    # "lost-504", "lost-reset" (the write is committed, the client sees a failure).
    kinds: tuple[str, ...] = ("503", "504", "reset", "lost-504", "lost-reset")


@dataclass
class Switches:
    """Behaviours the sources leave open (UNCONFIRMED); defaults are the conservative reading."""

    # graph-semantics §2: attachment createUploadSession on a non-draft message is undocumented;
    # the community says the message must be a draft (docs-contrib#687).
    upload_session_on_non_draft: bool = False
    # §1.8: ErrorFolderExists is seen as 409 and as 400; clients must key on error.code.
    folder_exists_status: int = 409
    # §2 / §11.8: inline attachment POST over 3 MB is refused; the exact status is UNCONFIRMED.
    inline_attachment_limit: int = 3 * MB
    inline_attachment_status: int = 413
    # §2: default Exchange Online maximum message size 35 MB (tenant-configurable up to 150 MB).
    max_message_bytes: int = 35 * MB
    # §6: the current driveitem-put-content doc says 250 MB, the older one 4 MB.
    drive_simple_upload_limit: int = 250 * MB
    # §1.6: an empty internetMessageHeaders list was answered with 400 (msgraph-sdk-dotnet#2208).
    reject_empty_internet_headers: bool = True
    # §5.4: list view threshold; a non-indexed filter with the Prefer header fails above it.
    list_view_threshold: int = 5000
    # §3.2: at most 3 emailAddresses per contact (the Outlook slots) is UNCONFIRMED; 0 = no limit.
    contact_email_limit: int = 3
    # §5.4: status of that failure; Graph was seen answering 429 (msgraph-sdk-dotnet#827), SharePoint REST 500.
    list_threshold_status: int = 429
    # §5.3: Created/Modified/Author/Editor believed not settable through Graph fields: refuse them.
    list_item_authorship_writable: bool = False
    # §5.2: whether Graph enforces `required` on item writes is UNCONFIRMED; enforcing is the safe side.
    enforce_required_columns: bool = True
    # SharePoint wants a column indexed before it enforces unique values; through Graph UNCONFIRMED.
    unique_requires_index: bool = True
    # §6: each upload-session fragment must be smaller than 60 MiB (DC:api/driveitem-createuploadsession.md).
    drive_upload_chunk_limit: int = 60 * MB
    # §5: system lists (the User Information List) are left out of GET /sites/{s}/lists unless $select names
    # `system` (DC:api/list-list.md); whether a $filter query finds them anyway is UNCONFIRMED
    # (GH Azure/Microsoft365R#77 suggests so): hidden from filters too.
    system_lists_match_filter: bool = False
    # §5.2/5.4: whether the User Information List's columns (EMail, UserName...) are indexed is UNCONFIRMED;
    # not indexed: a $filter on them needs the Prefer HonorNonIndexedQueriesWarningMayFailRandomly header.
    user_info_list_indexed: bool = False
    # §6: renaming a library file by writing its FileLeafRef field through Graph is UNCONFIRMED: refused (400),
    # the driveItem's name is what renames it.
    library_file_leaf_ref_writable: bool = False


@dataclass
class EmulatorConfig:
    """Everything ``notes2m365 emulator`` can be told."""

    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: str | None = None  # None: state in memory only
    tenant_file: str | None = None  # None: the demo tenant
    token: str | None = None  # None: any bearer token is accepted
    request_log: str | None = None  # JSON-lines file; None: kept in memory only
    upload_session_ttl_s: float = 15 * 60.0
    page_size: int = 10  # Outlook's default page size for collections
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    switches: Switches = field(default_factory=Switches)


def apply_setting(config: EmulatorConfig, assignment: str) -> None:
    """Apply ``section.field=value`` (sections: throttle, faults, switches; or a top-level field).

    The value is converted to the field's type; errors name the setting (ConfigError).
    """
    from dataclasses import fields

    from ..errors import ConfigError

    name, sep, raw = assignment.partition("=")
    if not sep:
        raise ConfigError(f"--set {assignment!r}: expected NAME=VALUE")
    section, _, field_name = name.strip().rpartition(".")
    target: object = {"": config, "throttle": config.throttle, "faults": config.faults,
                      "switches": config.switches}.get(section)
    if target is None:
        raise ConfigError(f"--set {name}: unknown section {section!r} (throttle, faults, switches)")
    known = {f.name: f for f in fields(target)}  # type: ignore[arg-type]
    if field_name not in known or isinstance(getattr(target, field_name), (ThrottleConfig, FaultConfig, Switches)):
        raise ConfigError(f"--set {name}: unknown setting; known: {', '.join(sorted(known))}")
    current = getattr(target, field_name)
    value: object
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(raw)
            value = raw.lower() in ("true", "1", "yes", "on")
        elif isinstance(current, int):
            value = int(raw)
        elif isinstance(current, float):
            value = float(raw)
        elif isinstance(current, tuple):
            value = tuple(v.strip() for v in raw.split(",") if v.strip())
        else:
            value = raw
    except ValueError:
        raise ConfigError(f"--set {name}: {raw!r} is not a valid {type(current).__name__}")
    setattr(target, field_name, value)
