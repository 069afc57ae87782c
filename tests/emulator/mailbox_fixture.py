"""Helpers for the robustness tests of ``notes2m365 migrate``: synthetic mailboxes, jobs, and the
exactly-once check of a target mailbox read back through raw Graph HTTP.

* :func:`write_mailbox_dxl` writes a deterministic Memo/Task mail DXL (``n`` documents, fixed seed)
  and its folder manifest (messages spread over Inbox, Sent, two user folders and a subfolder).
* :func:`write_job` writes a job file with one ``[[mailbox]]`` source per :class:`MailboxSpec`
  (optionally the demo samples too) into a temporary folder.
* :func:`expected_items` is the plan's mailbox items per mailbox (``build_plan``, the reference).
* :func:`read_mailbox` reads every message, event, contact and To Do task of a mailbox back
  (paging through ``@odata.nextLink``; transient answers and 429s are retried) and returns the
  source keys found, with the Notes sequence each one carries.
* :func:`assert_exactly_once` compares the two: every planned key exactly once, nothing missing,
  nothing extra, and every copy carries the planned version.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from notes2m365.exchange import ITEM_KINDS, VERSION_PROPERTY, mailbox_of
from notes2m365.job import Job, load_job
from notes2m365.operations import SOURCE_KEY_PROPERTY
from notes2m365.plan import build_plan

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
JANE = "jane.doe@acme.example"
JOHN = "john.smith@acme.example"

_WORDS = ("budget review forecast meeting contract invoice customer delivery schedule agenda minutes "
          "status report draft approval migration server mailbox calendar archive policy audit training "
          "Zürich café résumé naïve São Paulo Kraków straße R&D Q&A 10% 25€ £300 kick-off hand-over").split()
_FIRST = "Anna Bruno Carla David Elena Farid Greta Hugo Ines Jonas Karin Luca".split()
_LAST = "Keller Meier Rossi Dubois Novak Schmidt Weber Fischer Martin Bernard".split()
_OUS = "Sales Finance HR IT Legal".split()
_FOLDERS = ("Inbox", "Inbox", "Inbox", "Sent", "Projects\\Alpha", "Projects", "Archive 2023")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


def _dt(when: dt.datetime) -> str:
    offset, dst = ("+02", " dst='true'") if 4 <= when.month <= 9 else ("+01", "")
    return f"<datetime{dst}>{when:%Y%m%dT%H%M%S},00{offset}</datetime>"


@dataclass(frozen=True)
class SyntheticMailbox:
    """What :func:`write_mailbox_dxl` wrote."""

    dxl: Path
    folders: Path
    replica: str
    messages: int
    tasks: int


def write_mailbox_dxl(folder: Path, n: int, seed: int, owner: str = "Jane Doe", task_every: int = 12,
                      attachment_every: int = 9) -> SyntheticMailbox:
    """``n`` documents into ``folder/mail.dxl`` (every ``task_every``-th a To Do Task, every
    ``attachment_every``-th Memo with a small file) and ``folder/mail.folders.csv``; same seed, same bytes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    replica = f"{rng.getrandbits(64):016X}"
    owner_dn = f"CN={owner}/OU=Sales/O=Acme"
    people = [f"CN={rng.choice(_FIRST)} {rng.choice(_LAST)}/OU={rng.choice(_OUS)}/O=Acme" for _ in range(40)]
    clock = dt.datetime(2023, 1, 2, 8, 0, 0)
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n",
             "<!DOCTYPE database SYSTEM 'xmlschemas/domino_12_0.dtd'>\n",
             f"<database xmlns='http://www.lotus.com/dxl' version='12.0' maintenanceversion='1.0' "
             f"replicaid='{replica}' path='mail/synthetic{seed}.nsf' title='{_esc(owner)}'>\n"]
    manifest = ["folder,unid"]
    messages = tasks = 0
    for i in range(1, n + 1):
        clock += dt.timedelta(minutes=rng.randint(5, 600))
        unid = f"{rng.getrandbits(128):032X}"
        seq = rng.randint(1, 6)
        subject = _esc(" ".join(rng.choices(_WORDS, k=rng.randint(3, 8))).capitalize() + f" #{i}")
        head = (f"<noteinfo noteid='{0x900 + 4 * i:x}' unid='{unid}' sequence='{seq}'>"
                f"<created>{_dt(clock)}</created><modified>{_dt(clock)}</modified>"
                f"<revised>{_dt(clock)}</revised></noteinfo>\n")
        body = "".join(f"<par def='1'><run><font size='10pt' name='Arial'/>"
                       f"{_esc(' '.join(rng.choices(_WORDS, k=rng.randint(8, 30))))}.</run></par>\n"
                       for _ in range(rng.randint(1, 4)))
        if task_every and i % task_every == 0:
            tasks += 1
            due = clock + dt.timedelta(days=rng.randint(1, 20))
            parts.append(
                f"<document form='Task'>\n{head}"
                f"<item name='Subject'><text>{subject}</text></item>\n"
                "<item name='TaskType'><text>1</text></item>\n"
                f"<item name='From' names='true'><text>{_esc(owner_dn)}</text></item>\n"
                f"<item name='Principal' names='true'><text>{_esc(owner_dn)}</text></item>\n"
                f"<item name='StartDate'><datetime>{clock:%Y%m%d}</datetime></item>\n"
                f"<item name='DueDate'><datetime>{due:%Y%m%d}</datetime></item>\n"
                f"<item name='Body'><richtext>\n<pardef id='1'/>\n{body}</richtext></item>\n</document>\n")
            continue
        messages += 1
        sent = rng.random() < 0.15
        sender = owner_dn if sent else rng.choice(people)
        to = rng.sample(people, rng.randint(1, 4)) if sent else [owner_dn, *rng.sample(people, rng.randint(0, 2))]
        delivered = clock + dt.timedelta(seconds=rng.randint(1, 90))
        items = [
            "<item name='Form'><text>Memo</text></item>",
            f"<item name='From' names='true'><text>{_esc(sender)}</text></item>",
            f"<item name='Principal' names='true'><text>{_esc(sender)}</text></item>",
            "<item name='SendTo' names='true'><textlist>"
            + "".join(f"<text>{_esc(p)}</text>" for p in to) + "</textlist></item>",
            f"<item name='Subject'><text>{subject}</text></item>",
            f"<item name='PostedDate'>{_dt(clock)}</item>",
        ]
        if not sent:
            items.append(f"<item name='DeliveredDate'>{_dt(delivered)}</item>")
        items.append(f"<item name='$MessageID'><text>&lt;OF{unid[:8]}.{unid[8:16]}@acme.example&gt;</text></item>")
        files = []
        if attachment_every and i % attachment_every == 0:
            name = f"note-{i}.txt"
            data = (f"attachment {i} of mailbox {replica}\n" * rng.randint(5, 60)).encode()
            files.append((name, data))
        rich = ["<item name='Body'><richtext>\n<pardef id='1'/>\n", body]
        for name, _ in files:
            rich.append(f"<par def='1'><attachmentref name='{name}' displayname='{name}'/></par>\n")
        rich.append("</richtext></item>")
        items.append("".join(rich))
        for name, data in files:
            items.append(
                f"<item name='$FILE' summary='true'><object><file hosttype='msdos' compression='none' "
                f"flags='storedindoc' encoding='none' name='{name}' size='{len(data)}'>"
                f"<created>{_dt(clock)}</created><modified>{_dt(clock)}</modified>"
                f"<filedata>{base64.b64encode(data).decode()}</filedata></file></object></item>")
        parts.append(f"<document form='Memo'>\n{head}" + "\n".join(items) + "\n</document>\n")
        where = "Sent" if sent else rng.choice(_FOLDERS[:3] + _FOLDERS[4:])
        manifest.append(f"{where},{unid}")
    parts.append("</database>\n")
    dxl = folder / "mail.dxl"
    dxl.write_text("".join(parts), encoding="utf-8")
    folders = folder / "mail.folders.csv"
    folders.write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return SyntheticMailbox(dxl, folders, replica, messages, tasks)


@dataclass
class MailboxSpec:
    """One synthetic mailbox of a job: ``n`` documents generated with ``seed`` for ``upn``."""

    upn: str = JANE
    n: int = 80
    seed: int = 1
    owner: str = "Jane Doe"


@dataclass
class JobFiles:
    path: Path
    state: Path
    mailboxes: list[SyntheticMailbox] = field(default_factory=list)

    def load(self, graph_url: str) -> Job:
        return load_job(self.path, {"graph_url": graph_url})


def write_job(folder: Path, mailboxes: list[MailboxSpec], *, demo: bool = False, concurrency: int = 4,
              migrate: dict[str, Any] | None = None, graph_url: str = "http://127.0.0.1:9/v1.0") -> JobFiles:
    """A job file in ``folder`` with a source per synthetic mailbox (and the demo's mailbox sources when
    ``demo``); the state goes to ``folder/state/job.sqlite``.  ``migrate``: the ``[migrate]`` table."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[job]", 'name = "robustness"', 'state = "state/job.sqlite"', f"concurrency = {concurrency}", "",
             "[target]", f'graph_url = "{graph_url}"', "", "[identity]",
             f'map = "{(SAMPLES / "identity.csv").as_posix()}"', 'fallback_domain = "acme.example"',
             'fallback_orgs = ["Acme"]', 'internet_domains = ["acme.example"]',
             'ignore = ["*/OU=Servers/O=Acme", "LocalDomainServers", "-Default-", "Anonymous"]', ""]
    # a killed run's last requests finish within the emulator's latency: a short grace keeps restarts quick
    migrate = {"in_flight_grace": 2, **(migrate or {})}
    if migrate:
        lines.append("[migrate]")
        for key, value in migrate.items():
            lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
        lines.append("")
    written = []
    for n, spec in enumerate(mailboxes):
        box = write_mailbox_dxl(folder / f"box{n}-{spec.upn.split('@')[0]}", spec.n, spec.seed, spec.owner)
        written.append(box)
        lines += ["[[mailbox]]", f'source = "{box.dxl.relative_to(folder).as_posix()}"',
                  f'folders = "{box.folders.relative_to(folder).as_posix()}"', f'mailbox = "{spec.upn}"',
                  'mapping = "builtin:mail"', ""]
    if demo:
        lines += ["[[mailbox]]", f'source = "{(SAMPLES / "mail").as_posix()}/jdoe-*.dxl"',
                  f'folders = "{(SAMPLES / "mail" / "jdoe-mail.folders.csv").as_posix()}"',
                  f'mailbox = "{JANE}"', 'mapping = "builtin:mail"', "",
                  "[[mailbox]]", f'source = "{(SAMPLES / "contacts" / "jdoe-names.dxl").as_posix()}"',
                  f'mailbox = "{JANE}"', 'mapping = "builtin:contacts"', ""]
    path = folder / "job.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return JobFiles(path, folder / "state" / "job.sqlite", written)


# -- the plan: what must be there --------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    op: str
    sequence: int | None


def expected_items(job: Job) -> dict[str, dict[str, Expected]]:
    """Planned mailbox items per mailbox (lower-case UPN): {source key: (op, sequence)}."""
    out: dict[str, dict[str, Expected]] = {}
    for op in build_plan(job).operations:
        if op.op in ITEM_KINDS and op.container.startswith("mailbox:"):
            items = out.setdefault(mailbox_of(op.container).lower(), {})
            assert op.key not in items, f"the plan has {op.key} twice"
            items[op.key] = Expected(op.op, op.sequence)
    return out


# -- the tenant: what is there ----------------------------------------------------------------------------
@dataclass
class Found:
    """Source keys found in a mailbox: (kind, key) -> the versions of each copy; items without a key.

    Copies are told apart by their Graph id: paging is by offset, so an item can show up on two pages
    when something is created while the mailbox is read (after a SIGKILL the emulator may still be
    finishing the killed client's last request); it is still one item."""

    copies: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)
    unkeyed: Counter[str] = field(default_factory=Counter)
    ids: set[tuple[str, str]] = field(default_factory=set)

    def add(self, kind: str, item_id: str, key: str | None, version: str | None) -> None:
        if (kind, item_id) in self.ids:
            return
        self.ids.add((kind, item_id))
        if key is None:
            self.unkeyed[kind] += 1
        else:
            self.copies.setdefault((kind, key), []).append(version)


def _get(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """GET with patience: 429 and transient faults (the emulator may be injecting them) are retried."""
    for attempt in range(40):
        try:
            response = client.get(url, params=params)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code == 429:  # the checker has its own budget, but honour it if it comes
            time.sleep(min(float(response.headers.get("Retry-After") or 0.1), 2.0))
            continue
        if response.status_code >= 500:  # an injected fault: reads are safe to repeat at once
            time.sleep(0.01)
            continue
        assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text[:300]}"
        return response.json()
    raise AssertionError(f"GET {url}: still failing after 40 attempts")


def _all(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = _get(client, path, params)
    while True:
        out.extend(page.get("value", []))
        link = page.get("@odata.nextLink")
        if not link:
            return out
        page = _get(client, link)


def _prop(item: dict[str, Any], prop_id: str) -> str | None:
    for p in item.get("singleValueExtendedProperties") or []:
        if str(p.get("id", "")).lower() == prop_id.lower():
            return p.get("value")
    return None


def read_mailbox(base_url: str, upn: str) -> Found:
    """Every message, event, contact (all contact folders) and To Do task of ``upn`` with its source key."""
    found = Found()
    expand = (f"singleValueExtendedProperties($filter=id eq '{SOURCE_KEY_PROPERTY}' "
              f"or id eq '{VERSION_PROPERTY}')")
    user = f"/users/{upn}"
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer exactly-once-check"},
                      timeout=30) as client:
        collections = [("create-message", f"{user}/messages"), ("create-event", f"{user}/events"),
                       ("create-contact", f"{user}/contacts")]
        for folder in _all(client, f"{user}/contactFolders", {"$top": "100"}):
            collections.append(("create-contact", f"{user}/contactFolders/{folder['id']}/contacts"))
        for kind, path in collections:
            for item in _all(client, path, {"$top": "50", "$select": "id", "$expand": expand}):
                found.add(kind, item["id"], _prop(item, SOURCE_KEY_PROPERTY), _prop(item, VERSION_PROPERTY))
        for todo in _all(client, f"{user}/todo/lists"):
            for task in _all(client, f"{user}/todo/lists/{todo['id']}/tasks", {"$expand": "linkedResources"}):
                keys = [r.get("externalId") for r in task.get("linkedResources") or [] if r.get("externalId")]
                for key in keys or [None]:
                    found.add("create-task", f"{task['id']}#{key}", key, None)
    return found


def exactly_once_problems(base_url: str, job: Job) -> list[str]:
    """Every difference between the plan and the target mailboxes (empty: exactly once)."""
    problems: list[str] = []
    for upn, expected in sorted(expected_items(job).items()):
        found = read_mailbox(base_url, upn)
        seen: Counter[str] = Counter()
        for (_, key), versions in found.copies.items():
            seen[key] += len(versions)
        for key, want in sorted(expected.items()):
            versions = found.copies.get((want.op, key), [])
            if seen[key] != 1 or len(versions) != 1:
                problems.append(f"{upn}: {key} ({want.op}) found {seen[key]} times"
                                + (f" ({len(versions)} as {want.op})" if seen[key] != len(versions) else ""))
            elif want.op != "create-task" and want.sequence is not None and versions[0] != str(want.sequence):
                problems.append(f"{upn}: {key} carries version {versions[0]}, planned {want.sequence}")
        for (kind, key), versions in sorted(found.copies.items()):
            if key not in expected:
                problems.append(f"{upn}: unplanned {kind} {key} found {len(versions)} times")
    return problems


def assert_exactly_once(base_url: str, job: Job) -> dict[str, int]:
    """Assert that every planned item is in its mailbox exactly once; returns the planned count per mailbox."""
    problems = exactly_once_problems(base_url, job)
    assert not problems, f"{len(problems)} exactly-once violation(s):\n" + "\n".join(problems[:40])
    counts = {upn: len(items) for upn, items in expected_items(job).items()}
    assert counts and all(counts.values()), f"nothing planned: {counts}"
    return counts


def planned_total(job: Job) -> int:
    return sum(len(items) for items in expected_items(job).values())


# -- editing and reading DXL in tests ------------------------------------------------------------------
def edit_document(path: Path, unid: str, sequence: int, *replacements: tuple[str, str]) -> None:
    """Bump a document's ``sequence`` and edit text inside that document only."""
    text = path.read_text(encoding="utf-8")
    at = text.index(f"unid='{unid}'")
    start, end = text.rindex("<document", 0, at), text.index("</document>", at)
    doc, n = re.subn(rf"(unid='{unid}' sequence=')\d+'", rf"\g<1>{sequence}'", text[start:end])
    assert n == 1
    for old, new in replacements:
        assert doc.count(old) == 1, old
        doc = doc.replace(old, new)
    path.write_text(text[:start] + doc + text[end:], encoding="utf-8")


def dxl_file_bytes(dxl: Path, name: str) -> bytes:
    """An attachment's bytes straight from the DXL's ``$FILE`` (independent of the converter)."""
    text = dxl.read_text(encoding="utf-8")
    escaped = html.escape(name, quote=True).replace("&#x27;", "&apos;")
    m = re.search(r"<file\s[^>]*name='" + re.escape(escaped) + r"'[^>]*>.*?<filedata\s*>(.*?)</filedata>", text, re.S)
    assert m, name
    return base64.b64decode("".join(m.group(1).split()))
