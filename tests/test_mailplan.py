"""Mailbox planning: the samples as Graph operations (messages, folders, events, tasks, contacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notes2m365.convert import iter_converted
from notes2m365.errors import ConfigError
from notes2m365.identity import IdentityMap, IdentityRules
from notes2m365.job import Filters, Source
from notes2m365.mailplan import (
    FolderManifest,
    MailboxPlan,
    MailboxRules,
    graph_folder,
    plan_mailbox,
)
from notes2m365.model import DocumentError
from notes2m365.operations import SOURCE_KEY_PROPERTY, ContentRef
from notes2m365.pimplan import Ctx, large_content

from .conftest import SAMPLES, database, document, unid, write

UPN = "jane.doe@acme.example"
REPLICA = "C125802500222004"
MAIL = [str(SAMPLES / "mail" / n) for n in ("jdoe-mail.dxl", "jdoe-calendar.dxl", "jdoe-todo.dxl")]
CONTACTS = [str(SAMPLES / "contacts" / "jdoe-names.dxl")]
FOLDERS = str(SAMPLES / "mail" / "jdoe-mail.folders.csv")
KICKOFF, REPLY, STATUS, INDIA = ("49C8134A623DE9E3C1258ADE002D066B", "697ECBC097BE4776C1258ADE00305C16",
                                 "DE9A1D928B199F2DC1258AE000552D19", "2C0B2C0182E0321065258AE6002E91EC")
MIME, SENT, DRAFT = ("244A96F22C88158027E68E7A932F712B", "F4A73FE3910DDA1FC1258AF60031A5E2",
                     "806FC944C7A00F2DC1258AF90052A8B8")
WEEKLY, WEEKLY_CHILD, BIRTHDAY = ("BB73074574F08AB3C1258AE100459689", "CC538AA68580DBBEC1258AE1004596CF",
                                  "057DC3220010FECAC1258A9E002C1693")


def identity() -> IdentityMap:
    return IdentityMap.load(str(SAMPLES / "identity.csv"), IdentityRules(internet_domains=("acme.example",)))


def docs(files: list[str]) -> list[Any]:
    return [conv if conv is not None else doc for _, _, doc, conv in iter_converted(files)]


def plan(files: list[str] = MAIL, rules: MailboxRules | None = None, manifest: str | None = FOLDERS,
         ident: IdentityMap | None = None, filters: Filters | None = None) -> MailboxPlan:
    source = Source("mailbox", "x", tuple(files), UPN, "builtin:mail", manifest)
    return plan_mailbox(source, docs(files), rules or MailboxRules.builtin("mail"), ident or identity(),
                        FolderManifest.load(manifest) if manifest else None, filters)


@pytest.fixture(scope="module")
def mail() -> MailboxPlan:
    return plan()


def op_of(p: MailboxPlan, unid: str, part: str | None = None) -> Any:
    key = f"{REPLICA}/{unid}" + (f"#{part}" if part else "")
    [op] = [o for o in p.operations if o.key == key]
    return op


def props(op: Any) -> dict[str, str]:
    return {p["id"]: p["value"] for p in op.payload["singleValueExtendedProperties"]}


def addresses(values: list[dict[str, Any]]) -> list[str]:
    return [v["emailAddress"]["address"] for v in values]


# -- folders and messages ------------------------------------------------------------------------------------
def test_folders_come_first_sorted_with_parents(mail: MailboxPlan) -> None:
    folder_ops = [o for o in mail.operations if o.op == "ensure-mail-folder"]
    assert mail.operations[:2] == folder_ops
    assert [o.key for o in folder_ops] == [f"{REPLICA}/#folder/Projects", f"{REPLICA}/#folder/Projects/Alpha"]
    assert folder_ops[0].container == f"mailbox:{UPN}/folder:msgfolderroot"
    assert folder_ops[1].container == f"mailbox:{UPN}/folder:Projects"
    assert folder_ops[1].payload == {"displayName": "Alpha"}
    assert folder_ops[1].depends_on == (f"{REPLICA}/#folder/Projects",)


def test_kickoff_memo(mail: MailboxPlan) -> None:
    op = op_of(mail, KICKOFF)
    assert op.op == "create-message" and op.form == "Memo" and op.sequence == 3
    assert op.container == f"mailbox:{UPN}/folder:Projects/Alpha"  # Inbox and Projects\Alpha: the user folder
    assert op.depends_on == (f"{REPLICA}/#folder/Projects/Alpha",)
    p = op.payload
    assert p["subject"] == "Project Alpha kickoff"
    assert p["from"] == {"emailAddress": {"address": "john.smith@acme.example", "name": "John Smith"}}
    assert addresses(p["toRecipients"]) == [UPN]
    assert p["toRecipients"][0]["emailAddress"]["name"] == "Jane Doe"
    assert addresses(p["ccRecipients"]) == ["maria.garcia@acme.example"]
    assert "bccRecipients" not in p
    assert p["importance"] == "high" and p["categories"] == ["Projects", "Alpha"]
    assert p["internetMessageId"].startswith("<OF427A7114.")
    assert p["body"]["contentType"] == "html" and "<table" in p["body"]["content"]
    assert props(op) == {"Integer 0x0E07": "1", "SystemTime 0x0E06": "2024-03-12T08:15:05Z",
                         "SystemTime 0x0039": "2024-03-12T08:15:02Z",
                         SOURCE_KEY_PROPERTY: f"{REPLICA}/{KICKOFF}"}
    headers = p["internetMessageHeaders"]
    assert 0 < len(headers) <= 5 and all(h["name"].lower().startswith("x-") for h in headers)
    assert {"name": "X-Notes-UNID", "value": KICKOFF} in headers
    assert any("also Inbox" in w for w in op.warnings)
    assert mail.multi_folder == 4


def test_reply_threads_and_goes_to_the_user_folder(mail: MailboxPlan) -> None:
    op = op_of(mail, REPLY)
    assert op.container == f"mailbox:{UPN}/folder:Projects/Alpha"  # Sent and Projects\Alpha
    assert props(op)["String 0x1042"].startswith("<OF427A7114.")


def test_draft_has_no_message_flags(mail: MailboxPlan) -> None:
    op = op_of(mail, DRAFT)
    assert op.container == f"mailbox:{UPN}/folder:drafts" and not op.depends_on
    assert list(props(op)) == [SOURCE_KEY_PROPERTY]
    assert addresses(op.payload["toRecipients"]) == ["ravi.kumar@acme.example"]


def test_sent_memo(mail: MailboxPlan) -> None:
    op = op_of(mail, SENT)
    assert op.container == f"mailbox:{UPN}/folder:sentitems"
    assert props(op)["SystemTime 0x0039"] == "2024-04-05T09:20:45Z"  # PostedDate +02 in UTC
    assert props(op)["SystemTime 0x0E06"] == "2024-04-05T09:20:45Z"  # no DeliveredDate: posted
    assert props(op)["Integer 0x0E07"] == "1"
    p = op.payload
    assert addresses(p["toRecipients"]) == ["john.smith@acme.example", "anna.schmidt@partner.example"]
    assert p["toRecipients"][1]["emailAddress"] == {"address": "anna.schmidt@partner.example"}
    assert addresses(p["bccRecipients"]) == ["peter.miller@acme.example"]


def test_without_manifest_the_dates_choose_the_folder() -> None:
    p = plan(MAIL[:1], manifest=None)
    assert not [o for o in p.operations if o.op == "ensure-mail-folder"]
    assert op_of(p, SENT).container.endswith("/folder:sentitems")
    assert op_of(p, REPLY).container.endswith("/folder:sentitems")  # posted, not delivered, from Jane
    assert op_of(p, DRAFT).container.endswith("/folder:drafts")
    assert op_of(p, KICKOFF).container.endswith("/folder:inbox")
    assert p.multi_folder == 0


def test_mime_mail(mail: MailboxPlan) -> None:
    op = op_of(mail, MIME)
    p = op.payload
    assert p["subject"] == "Angebot für Projekt Alpha"  # RFC 2047 header
    assert p["from"]["emailAddress"] == {"address": "anna.schmidt@partner.example", "name": "Anna Schmidt"}
    assert addresses(p["toRecipients"]) == [UPN] and addresses(p["ccRecipients"]) == ["john.smith@acme.example"]
    assert p["internetMessageId"] == "<20240403081201.4F2A1C@mx.partner.example>"
    assert "Hallo Jane" in p["body"]["content"]
    assert props(op)["SystemTime 0x0039"] == "2024-04-03T08:12:01Z"  # MIME Date
    assert op.container == f"mailbox:{UPN}/folder:inbox"
    assert "categories" not in p  # empty Categories item


def test_attachments_and_inline_images_are_content_refs(mail: MailboxPlan) -> None:
    status = op_of(mail, STATUS)
    assert [(c.name, c.content_type, c.inline) for c in status.content] == [
        ("report.pdf", "application/pdf", False), ("Protokoll März 2024.txt", "text/plain", False)]
    assert status.requests == 3
    india = op_of(mail, INDIA)
    assert [(c.name, c.inline, c.content_id) for c in india.content] == [
        ("image001.png", True, "Body-1@notes2m365"), ("image002.gif", True, "Body-2@notes2m365")]
    assert 'src="cid:Body-1@notes2m365"' in india.payload["body"]["content"]
    assert len(india.content[0].sha256) == 64


def test_large_attachments_warn_on_non_drafts_only() -> None:
    big = ContentRef("big.zip", 4 * 1024 * 1024, "0" * 64)
    image = ContentRef("big.png", 4 * 1024 * 1024, "1" * 64, "image/png", inline=True, content_id="x")
    ctx = Ctx(UPN, identity())
    assert large_content(ctx, [big, ContentRef("small", 10, "2" * 64)], draft=False) == 1
    assert "undocumented" in ctx.warnings[0]
    ctx = Ctx(UPN, identity())
    assert large_content(ctx, [big, image], draft=True) == 2
    assert len(ctx.warnings) == 1 and "contentId" in ctx.warnings[0]


def test_well_known_folder_names() -> None:
    assert graph_folder("($Inbox)") == ("inbox",) and graph_folder("inbox") == ("inbox",)
    assert graph_folder("Sent") == ("sentitems",) and graph_folder("($Trash)") == ("deleteditems",)
    assert graph_folder("Projects\\Alpha") == ("Projects", "Alpha")
    assert graph_folder("Inbox\\Later") == ("inbox", "Later")


# -- calendar -------------------------------------------------------------------------------------------------
def test_weekly_meeting_is_one_series(mail: MailboxPlan) -> None:
    op = op_of(mail, WEEKLY)
    p = op.payload
    assert p["recurrence"] == {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "endDate", "startDate": "2024-03-19", "endDate": "2024-05-28",
                  "recurrenceTimeZone": "W. Europe Standard Time"}}
    assert p["start"] == {"dateTime": "2024-03-19T09:00:00", "timeZone": "W. Europe Standard Time"}
    assert p["end"] == {"dateTime": "2024-03-19T09:30:00", "timeZone": "W. Europe Standard Time"}
    assert p["isReminderOn"] is True and p["reminderMinutesBeforeStart"] == 10
    assert not [o for o in mail.operations if WEEKLY_CHILD in o.key]
    assert mail.series_instances == 3  # instance documents of the weekly meeting, the birthday, the group to-do
    assert props(op) == {SOURCE_KEY_PROPERTY: f"{REPLICA}/{WEEKLY}"}


def test_yearly_anniversary_is_all_day(mail: MailboxPlan) -> None:
    p = op_of(mail, BIRTHDAY).payload
    assert p["isAllDay"] is True
    assert p["start"] == {"dateTime": "2024-06-14T00:00:00", "timeZone": "UTC"}
    assert p["end"] == {"dateTime": "2024-06-15T00:00:00", "timeZone": "UTC"}
    assert p["recurrence"]["pattern"] == {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 14, "month": 6}
    assert p["recurrence"]["range"]["numberOfOccurrences"] == 10


def test_single_events(mail: MailboxPlan) -> None:
    events = [o for o in mail.operations if o.op == "create-event"]
    assert len(events) == 7 and all(o.container == f"mailbox:{UPN}/calendar" for o in events)
    steering = op_of(mail, "DF496DD17BA39AD0C1258AF3002D631A").payload
    # 12:00Z as the organiser's wall clock, in the Windows name of the Notes zone
    assert steering["start"] == {"dateTime": "2024-04-10T14:00:00", "timeZone": "W. Europe Standard Time"}
    assert steering["location"] == {"displayName": "Zurich HQ, 4th floor"}
    assert "attendees" not in steering  # default "body": never send invitations
    head = steering["body"]["content"].split("</div>", 1)[0]
    assert "Chair:</b> Jane Doe" in head and "John Smith &lt;john.smith@acme.example&gt;" in head
    assert "Matterhorn &lt;matterhorn@acme.example&gt;" in head
    offsite = op_of(mail, "D76BB266FDED2AB7C1258AC8002A7FB7").payload
    assert offsite["isAllDay"] and offsite["end"]["dateTime"] == "2024-05-22T00:00:00"  # inclusive end + 1 day
    assert offsite["showAs"] == "free"
    assert op_of(mail, "F93FEDB806DC80D7C1258AED003CF76F").payload["sensitivity"] == "private"


def test_attendee_modes() -> None:
    invite = plan(MAIL[1:2], MailboxRules(attendees="invite"), manifest=None)
    p = op_of(invite, "DF496DD17BA39AD0C1258AF3002D631A").payload
    assert [(a["emailAddress"]["address"], a["type"]) for a in p["attendees"]] == [
        ("john.smith@acme.example", "required"), ("maria.garcia@acme.example", "required"),
        ("peter.miller@acme.example", "optional"), ("anna.schmidt@partner.example", "optional"),
        ("matterhorn@acme.example", "resource")]  # the organizer herself is not invited
    assert any("sends invitations" in w for w in op_of(invite, "DF496DD17BA39AD0C1258AF3002D631A").warnings)
    omit = plan(MAIL[1:2], MailboxRules(attendees="omit"), manifest=None)
    p = op_of(omit, "DF496DD17BA39AD0C1258AF3002D631A").payload
    assert "attendees" not in p and 'data-notes="attendees"' not in p["body"]["content"]


def appointment(n: int, extra: str) -> str:
    items = ("<item name='Subject'><text>Custom dates</text></item>"
             "<item name='AppointmentType'><text>0</text></item>"
             "<item name='Repeats'><text>1</text></item><item name='RepeatUnit'><text>C</text></item>"
             "<item name='StartTimeZone'><text>Z=-1$DO=1$ZN=W. Europe</text></item>" + extra)
    return document(n, items, form="Appointment")


def test_irregular_repeat_becomes_single_events(tmp_path: Path) -> None:
    starts = "<datetime>20240305T100000,00+01</datetime><datetime>20240311T100000,00+01</datetime>"
    ends = "<datetime>20240305T110000,00+01</datetime><datetime>20240311T110000,00+01</datetime>"
    f = write(tmp_path, database(appointment(1, f"<item name='StartDateTime'><datetimelist>{starts}"
                                                f"</datetimelist></item><item name='EndDateTime'><datetimelist>"
                                                f"{ends}</datetimelist></item>")))
    p = plan([str(f)], manifest=None)
    assert [o.key.split("#")[1] for o in p.operations] == ["instance/2024-03-05T10:00", "instance/2024-03-11T10:00"]
    assert p.operations[1].payload["start"] == {"dateTime": "2024-03-11T10:00:00",
                                                "timeZone": "W. Europe Standard Time"}  # 09:00Z
    assert all("2 single events" in " ".join(o.warnings) for o in p.operations)


# -- tasks and contacts ---------------------------------------------------------------------------------------
def test_tasks(mail: MailboxPlan) -> None:
    tasks = [o for o in mail.operations if o.op == "create-task"]
    assert len(tasks) == 4 and all(o.container == f"mailbox:{UPN}/todo:Tasks" for o in tasks)
    first = op_of(mail, "0DD893716AE34BFDC1258AF50023B8B0")
    assert first.payload["linkedResources"] == [{
        "applicationName": "notes2m365", "externalId": f"{REPLICA}/0DD893716AE34BFDC1258AF50023B8B0",
        "displayName": f"Notes document {REPLICA}/0DD893716AE34BFDC1258AF50023B8B0"}]
    assert "singleValueExtendedProperties" not in first.payload
    assert first.payload["dueDateTime"] == {"dateTime": "2024-04-12T00:00:00", "timeZone": "UTC"}
    assert first.payload["body"]["contentType"] == "text" and "EMEA pipeline" in first.payload["body"]["content"]
    done = op_of(mail, "A76CA3ABD3CE0090C1258AD60031A057").payload
    assert done["status"] == "completed"
    assert op_of(mail, "1F6B862BD54B1FCAC1258AF600487BC8").payload["importance"] == "high"
    group = op_of(mail, "AF3F95ACC5C600E4C1258AF4004EC3B5")
    assert group.payload["recurrence"]["pattern"]["daysOfWeek"] == ["friday"]
    assert any("cannot be assigned" in w for w in group.warnings)


def test_custom_todo_list() -> None:
    p = plan(MAIL[2:], MailboxRules(todo_list="Notes to-dos"), manifest=None)
    assert p.operations[0].op == "ensure-todo-list"
    assert p.operations[0].payload == {"displayName": "Notes to-dos"}
    assert all(o.depends_on == (p.operations[0].key,) and o.container.endswith("/todo:Notes to-dos")
               for o in p.operations[1:])


def test_contacts() -> None:
    p = plan(CONTACTS, MailboxRules.builtin("contacts"), manifest=None)
    assert p.forms == {"Person": 4, "Group": 1} and p.skipped_forms == {"Group": 1}
    assert len(p.operations) == 4
    john = p.operations[0]
    assert john.op == "create-contact" and john.container == f"mailbox:{UPN}/contacts"
    c = john.payload
    assert c["emailAddresses"] == [{"address": "john.smith@acme.example", "name": "John Smith"}]
    assert (c["givenName"], c["surname"], c["displayName"]) == ("John", "Smith", "John Smith")
    assert c["businessPhones"] == ["+41 44 555 01 23"] and c["mobilePhone"] == "+41 79 555 01 23"
    assert c["businessAddress"]["street"] == "Bahnhofstrasse 12\nBuilding B"
    assert c["birthday"] == "1978-06-14T12:00:00Z"
    assert c["personalNotes"].startswith("Fax: +41 44 555 01 99") and "Sponsor of Project Alpha" in c["personalNotes"]
    assert props(john)[SOURCE_KEY_PROPERTY] == john.key
    assert p.operations[3].payload["emailAddresses"] == [{"address": "s.martin@example.org", "name": "Sophie Martin"}]
    assert "categories" not in p.operations[3].payload
    folder = plan(CONTACTS, MailboxRules(MailboxRules.builtin("contacts").forms, contacts_folder="Notes"),
                  manifest=None)
    assert folder.operations[0].op == "ensure-contact-folder"
    assert folder.operations[1].container == f"mailbox:{UPN}/contacts:Notes"


# -- the plan as a whole --------------------------------------------------------------------------------------
def test_deterministic_and_unique_keys(mail: MailboxPlan) -> None:
    again = plan()
    assert [o.line() for o in again.operations] == [o.line() for o in mail.operations]
    keys = [o.key for o in mail.operations]
    assert len(keys) == len(set(keys)) == 2 + 8 + 7 + 4
    assert mail.forms == {"Memo": 6, "Reply": 2, "Appointment": 9, "Task": 5}
    assert mail.targets == {"ensure-mail-folder": 2, "create-message": 8, "create-event": 7, "create-task": 4}
    assert not mail.errors and not mail.unmapped_forms and mail.large_attachments == 0


def test_unmapped_forms_errors_and_unresolved_recipient(tmp_path: Path) -> None:
    memo = document(1, "<item name='Subject'><text>Hello</text></item>"
                       "<item name='From'><text>CN=Jane Doe/OU=Sales/O=Acme</text></item>"
                       "<item name='SendTo'><textlist><text>CN=Nobody/O=Elsewhere</text>"
                       "<text>CN=John Smith/O=Acme</text></textlist></item>"
                       "<item name='PostedDate'><datetime>20240312T091502,17+01</datetime></item>"
                       "<item name='DeliveredDate'><datetime>20240312T091505,00+01</datetime></item>")
    body = memo + document(2, form="Mystery") + document(3, form="mystery") + document(4, form="(Notice)")
    f = write(tmp_path, database(body))
    ident = identity()
    items = docs([str(f)]) + [DocumentError(str(f), 99, "ABC", "broken document")]
    rules = MailboxRules({"MEMO": "message", "(notice)": "skip"})
    p = plan_mailbox(Source("mailbox", "x", (str(f),), UPN, "builtin:mail"), items, rules, ident)
    assert p.unmapped_forms == {"Mystery": 1, "mystery": 1}
    assert p.skipped_forms == {"(Notice)": 1}
    assert p.errors == [f"{f}:99: document ABC broken document"]
    assert p.issues().unmapped_forms == {"Mystery": 1, "mystery": 1}
    [op] = p.operations
    assert addresses(op.payload["toRecipients"]) == ["john.smith@acme.example"]  # Nobody is dropped...
    assert op.warnings == ("SendTo: 'CN=Nobody/O=Elsewhere' dropped: no address (unresolved)",)  # ...and reported
    assert ident.unresolved() == [("CN=Nobody/O=Elsewhere", 1)]
    assert op.container.endswith("/folder:inbox")


def test_filters() -> None:
    p = plan(filters=Filters(forms=("memo", "Task")))
    assert {o.form for o in p.operations if o.form} == {"Memo", "Task"} and p.filtered == 2 + 9
    p = plan(filters=Filters(exclude_forms=("Appointment",), folders=("Projects",)))
    assert {o.key.split("/")[-1] for o in p.operations if o.op == "create-message"} == {KICKOFF, REPLY, STATUS,
                                                                                       "9FBB6610D63065DBC1258ADE0039658C"}
    from datetime import date
    p = plan(MAIL[:1], filters=Filters(since=date(2024, 4, 1)))
    assert {o.key.split("/")[-1] for o in p.operations if o.op == "create-message"} == {MIME, SENT, DRAFT}


def test_folder_manifest(tmp_path: Path) -> None:
    m = FolderManifest.load(FOLDERS)
    assert m.folders_of(KICKOFF.lower()) == ("Inbox", "Projects\\Alpha")
    assert m.folders_of("0" * 32) == ()
    bad = tmp_path / "f.csv"
    bad.write_bytes(b"folder,unid\r\nInbox,1234\r\n")
    with pytest.raises(ConfigError, match=r"f\.csv:2: '1234' is not a UNID"):
        FolderManifest.load(bad)
    bad.write_bytes(b"name,unid\r\n")
    with pytest.raises(ConfigError, match=r"f\.csv:1: header"):
        FolderManifest.load(bad)
    bad.write_bytes(b"folder,unid\r\n\r\nInbox\r\n")
    with pytest.raises(ConfigError, match=r"f\.csv:3: expected 2 fields"):
        FolderManifest.load(bad)


def test_rules_validation() -> None:
    with pytest.raises(ConfigError, match="unknown target"):
        MailboxRules({"Memo": "mail"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="attendees"):
        MailboxRules(attendees="all")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is .application., but this source is a mailbox"):
        MailboxRules.builtin("discussion")
    assert MailboxRules().kind_of("reply with history") == "message"
    assert MailboxRules().kind_of(None) is None


# -- every document is planned or counted -----------------------------------------------------------------------
def event(n: int, start: str | None, extra: str = "", *, end: str | None = None) -> str:
    items = "<item name='Subject'><text>Entry</text></item><item name='AppointmentType'><text>3</text></item>"
    if start is not None:
        items += f"<item name='StartDateTime'><datetime>{start}</datetime></item>"
        items += f"<item name='EndDateTime'><datetime>{end or start}</datetime></item>"
    return document(n, items + extra, form="Appointment")


def lines_of(path: Path) -> dict[int, int]:
    """Document number -> the line of its <document> element in a file written by ``write``."""
    out = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if "<noteinfo" in line:
            out[int(line.split("unid='")[1][:32], 16)] = i
    return out


def test_calendar_entry_without_a_valid_start_is_a_plan_error(tmp_path: Path) -> None:
    body = (event(1, None) + event(2, "20241345T250000") + event(3, "20240410T140000,00+02")
            + document(4, "<item name='Subject'><text>Todo</text></item>", form="Task")
            + document(5, "<item name='FirstName'><text>Ann</text></item>", form="Person"))
    f = write(tmp_path, database(body))
    rules = MailboxRules({"Appointment": "event", "Task": "task", "Person": "contact"})
    p = plan([str(f)], rules, manifest=None)
    line = lines_of(f)
    assert p.errors == [
        f"{f}:{line[1]}: document {unid(1)} not planned: calendar entry without a valid start (no StartDateTime)",
        (f"{f}:{line[2]}: document {unid(2)} not planned: calendar entry without a valid start "
         "(StartDateTime '20241345T250000' is not a date)")]
    assert [o.op for o in p.operations] == ["create-event", "create-task", "create-contact"]
    assert p.issues().errors == p.errors
    # every mapped document is either an operation or counted
    assert len(p.operations) + len(p.errors) + sum(p.issues().left_out.values()) == sum(p.forms.values())


def test_malformed_numbers_do_not_stop_the_plan(tmp_path: Path) -> None:
    weekly = ("<datetime>20240305T100000,00+01</datetime><datetime>20240312T100000,00+01</datetime>")
    def repeating(n: int, interval: str) -> str:
        return document(n, "<item name='Subject'><text>Weekly</text></item>"
                           "<item name='AppointmentType'><text>3</text></item>"
                           "<item name='Repeats'><text>1</text></item><item name='RepeatUnit'><text>W</text></item>"
                           f"<item name='RepeatInterval'><text>{interval}</text></item>"
                           "<item name='StartTimeZone'><text>Z=-1$DO=1$ZN=W. Europe</text></item>"
                           f"<item name='StartDateTime'><datetimelist>{weekly}</datetimelist></item>",
                        form="Appointment")
    body = (repeating(1, "inf") + repeating(2, "99999999")
            + event(3, "20240410T140000,00+02", "<item name='$Alarm'><number>1</number></item>"
                                                "<item name='$AlarmOffset'><text>-inf</text></item>")
            + event(4, "00010101T000000,00+01")  # before year 1 in UTC: cannot be planned
            + event(5, "99991231", "<item name='AppointmentType'><text>2</text></item>")  # ends after 9999
            + event(6, "20240411T140000,00+02"))
    f = write(tmp_path, database(body))
    p = plan([str(f)], MailboxRules({"Appointment": "event"}), manifest=None)
    line = lines_of(f)
    assert p.errors == [f"{f}:{line[4]}: document {unid(4)} not planned: OverflowError: date value out of range",
                        f"{f}:{line[5]}: document {unid(5)} not planned: OverflowError: date value out of range"]
    by_doc: dict[str, list[Any]] = {}
    for o in p.operations:
        by_doc.setdefault(o.key.split("/")[1].split("#")[0], []).append(o)
    assert sorted(by_doc) == [unid(1), unid(2), unid(3), unid(6)]
    for n in (1, 2):  # an interval out of range: the instances as single events
        assert len(by_doc[unid(n)]) == 2
        assert any("RepeatInterval" in w and "out of range" in w for w in by_doc[unid(n)][0].warnings)
    [alarm] = by_doc[unid(3)]
    assert alarm.payload["isReminderOn"] is True and alarm.payload["reminderMinutesBeforeStart"] == 0
    assert any("$AlarmOffset '-inf'" in w for w in alarm.warnings)


def test_any_planning_failure_is_an_error_for_that_document(tmp_path: Path, monkeypatch: Any) -> None:
    from notes2m365 import mailplan

    real = mailplan.task_payload

    def broken(ctx: Ctx, conv: Any) -> Any:
        if conv.doc.unid == unid(1):
            raise TypeError("unsupported operand")
        return real(ctx, conv)

    monkeypatch.setattr(mailplan, "task_payload", broken)
    body = "".join(document(n, "<item name='Subject'><text>Todo</text></item>", form="Task") for n in (1, 2))
    f = write(tmp_path, database(body))
    p = plan([str(f)], MailboxRules({"Task": "task"}, todo_list="Later"), manifest=None)
    assert p.errors == [f"{f}:{lines_of(f)[1]}: document {unid(1)} not planned: TypeError: unsupported operand"]
    assert [o.op for o in p.operations] == ["ensure-todo-list", "create-task"]
    assert p.operations[1].key.endswith(unid(2))


def test_series_wall_clock_time_in_the_named_zone(tmp_path: Path) -> None:
    # 13:30 in India is 09:00 in Zurich (winter), whatever offset the DXL values were written with
    starts = "".join(f"<datetime>202401{d:02}T133000,00+0530</datetime>" for d in (9, 16, 23))
    ends = "".join(f"<datetime>202401{d:02}T140000,00+0530</datetime>" for d in (9, 16, 23))
    doc = document(1, "<item name='Subject'><text>Weekly</text></item>"
                      "<item name='AppointmentType'><text>3</text></item>"
                      "<item name='Repeats'><text>1</text></item><item name='RepeatUnit'><text>W</text></item>"
                      "<item name='RepeatHow'><text>F</text></item>"
                      "<item name='StartTimeZone'><text>Z=-1$DO=1$ZN=W. Europe</text></item>"
                      f"<item name='StartDateTime'><datetimelist>{starts}</datetimelist></item>"
                      f"<item name='EndDateTime'><datetimelist>{ends}</datetimelist></item>", form="Appointment")
    # the same wall-clock time in UTC+05:30 across a DST change in Europe: not one time in W. Europe
    across = "".join(f"<datetime>2024{md}T133000,00+0530</datetime>" for md in ("0319", "0326", "0402"))
    dst = document(2, "<item name='Subject'><text>Across DST</text></item>"
                      "<item name='AppointmentType'><text>3</text></item>"
                      "<item name='Repeats'><text>1</text></item><item name='RepeatUnit'><text>W</text></item>"
                      "<item name='StartTimeZone'><text>Z=-1$DO=1$ZN=W. Europe</text></item>"
                      f"<item name='StartDateTime'><datetimelist>{across}</datetimelist></item>",
                   form="Appointment")
    f = write(tmp_path, database(doc + dst))
    p = plan([str(f)], MailboxRules({"Appointment": "event"}), manifest=None)
    series = p.operations[0].payload
    assert series["start"] == {"dateTime": "2024-01-09T09:00:00", "timeZone": "W. Europe Standard Time"}
    assert series["end"] == {"dateTime": "2024-01-09T09:30:00", "timeZone": "W. Europe Standard Time"}
    assert series["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday"]
    assert series["recurrence"]["range"]["startDate"] == "2024-01-09"
    singles = p.operations[1:]
    assert [o.payload["start"] for o in singles] == [  # the same UTC instants (08:00Z), in the Notes zone
        {"dateTime": t, "timeZone": "W. Europe Standard Time"}
        for t in ("2024-03-19T09:00:00", "2024-03-26T09:00:00", "2024-04-02T10:00:00")]
    assert "not start at one time of day in W. Europe Standard Time" in singles[0].warnings[-1]


def test_folders_fold_case_and_junk_mail(tmp_path: Path) -> None:
    def memo(n: int) -> str:
        return document(n, "<item name='Subject'><text>Hi</text></item>"
                           "<item name='DeliveredDate'><datetime>20240312T091505,00+01</datetime></item>")
    f = write(tmp_path, database("".join(memo(n) for n in range(1, 6))))
    manifest = tmp_path / "folders.csv"
    manifest.write_text("folder,unid\n"
                        f"Projects\\Alpha,{unid(1)}\nprojects\\ALPHA,{unid(2)}\nPROJECTS,{unid(3)}\n"
                        f"($JunkMail),{unid(4)}\nJunk Mail,{unid(5)}\nprojects,{unid(5)}\n")
    p = plan([str(f)], MailboxRules({"Memo": "message"}), manifest=str(manifest))
    folder_ops = [o for o in p.operations if o.op == "ensure-mail-folder"]
    assert [o.key.split("#")[1] for o in folder_ops] == ["folder/Projects", "folder/Projects/Alpha"]
    containers = [o.container.split("/folder:")[1] for o in p.operations if o.op == "create-message"]
    assert containers == ["Projects/Alpha", "Projects/Alpha", "Projects", "junkemail", "Projects"]
    assert graph_folder("JunkMail") == ("junkemail",) and graph_folder("junk mail\\Old") == ("junkemail", "Old")
    assert p.multi_folder == 1  # Junk Mail and projects


def test_messages_over_35_mb_are_reported(tmp_path: Path, monkeypatch: Any) -> None:
    from notes2m365 import mailplan

    def huge(conv: Any) -> list[ContentRef]:
        if conv.doc.unid == unid(1):
            return [ContentRef(f"part{i}.zip", 3 * 1024 * 1024 - 1, f"{i}" * 64) for i in range(12)]
        return []

    monkeypatch.setattr(mailplan, "contents", huge)
    body = "".join(document(n, "<item name='Subject'><text>Big</text></item>"
                               "<item name='DeliveredDate'><datetime>20240312T091505,00+01</datetime></item>")
                   for n in (1, 2))
    f = write(tmp_path, database(body))
    p = plan([str(f)], MailboxRules({"Memo": "message"}), manifest=None)
    big, small = p.operations
    assert any("35 MB maximum message size" in w for w in big.warnings) and not small.warnings
    assert p.large_attachments == 0  # each part is under 3 MB; the message is not
    assert p.degraded == {"messages over 35 MB": 1} and p.issues().degraded == {"messages over 35 MB": 1}


def test_iso_z_is_strftime_for_every_year():
    import datetime as dt

    from notes2m365.pimplan import iso_z

    for value in (dt.datetime(2024, 3, 1, 9, 5, 7, 999999, tzinfo=dt.UTC), dt.datetime(1, 1, 1), dt.datetime(999, 12, 31, 23, 59, 59),
                  dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 1),
                  dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))):
        assert iso_z(value) == value.strftime("%Y-%m-%dT%H:%M:%SZ")
