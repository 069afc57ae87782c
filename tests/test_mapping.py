"""Mapping files: the built-in ones load, and every mistake is one line naming file, line and key."""

from __future__ import annotations

import pytest

from notes2m365.errors import ConfigError
from notes2m365.mapping import AppMapping, MailboxMapping, load_mapping

APP = """[mapping]
kind = "application"
forms = ["MainTopic"]

[list]
name = "Topics"

[[column]]
name = "Title"
from = "Subject"
"""


@pytest.mark.parametrize("name,kind", [("mail", MailboxMapping), ("contacts", MailboxMapping),
                                       ("discussion", AppMapping), ("teamroom", AppMapping), ("doclib", AppMapping)])
def test_builtin_mappings_load(name, kind):
    assert isinstance(load_mapping(f"builtin:{name}"), kind)


def test_builtin_mail_routes_the_mail_template_forms():
    mail = load_mapping("builtin:mail")
    assert [mail.target_of(f) for f in ("Memo", "reply", "Appointment", "Task", "(Notice)", "Unknown")] == \
        ["message", "message", "event", "task", "skip", None]
    assert mail.attendees == "body"


def test_provenance_columns_are_added_and_the_key_is_indexed():
    discussion = load_mapping("builtin:discussion")
    names = [c.name for c in discussion.all_columns]
    assert names[-7:] == ["NotesKey", "NotesForm", "NotesAuthor", "NotesCreated", "NotesModified", "NotesAttachments",
                          "NotesReaders"]
    assert next(c for c in discussion.all_columns if c.name == "NotesKey").definition()["indexed"] is True


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        load_mapping("builtin:nope")
    assert "builtin:mail" in str(info.value)


@pytest.mark.parametrize("text,line,fragment", [
    (APP.replace('from = "Subject"', 'form = "Subject"'), 10, "column[1].form: unknown key"),
    (APP + '\n[[column]]\nname = "Due"\nfrom = "DueDate"\ntype = "datetime"\n', 15,
     "column[2].type: 'datetime' is not a column type"),
    (APP + '\n[[column]]\nname = "Status"\nexpr = "lower(Status)"\n', 14, "unknown name 'Status'"),
    (APP + '\n[[column]]\nname = "Status"\nfrom = "Status"\ntype = "choice"\n', 12, "needs 'choices' or fill_in"),
    (APP + '\n[[column]]\nname = "title"\nfrom = "X"\n', 13, "column[2].name: 'title' is already column 1"),
    (APP + '\n[[column]]\nname = "Created"\nfrom = "X"\n', 13, "Graph cannot write"),
    (APP + '\n[[column]]\nname = "NotesKey"\nfrom = "X"\n', 13, "provenance column"),
    (APP + '\n[[column]]\nname = "Pages"\nfrom = "X"\ntype = "number"\nmulti = true\n', 16, "column[2].multi"),
    (APP.replace('name = "Title"', 'name = "Subject"'), None, "needs a column named Title"),
    (APP.replace('kind = "application"', 'kind = "app"'), 2, "mapping.kind: must be"),
    (APP.replace('forms = ["MainTopic"]', "forms = []"), 3, "mapping.forms: must be a non-empty list"),
    ('[mapping]\nkind = "mailbox"\n[forms]\nMemo = "mail"\n', 4, "forms.Memo: must be one of"),
    ('[mapping]\nkind = "mailbox"\n[forms]\nMemo = "message"\n[options]\nattendees = "all"\n', 6,
     "options.attendees: must be omit, body or invite"),
    (APP + "[[column]\n", 11, "not valid TOML"),
])
def test_mistakes_are_one_line_with_file_line_and_key(tmp_path, text, line, fragment):
    path = tmp_path / "custom.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_mapping(str(path))
    message = str(info.value)
    assert "\n" not in message and fragment in message, message
    assert message.startswith(f"{path}:{line}:" if line else str(path))


def test_a_mapping_of_the_wrong_kind_for_the_source(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_mapping("builtin:mail", expected="application")
    assert "mapping.kind: is 'mailbox', but this source is an application" in str(info.value)


@pytest.mark.parametrize("column,fragment", [
    ('name = "Pages"\nfrom = "X"\ntype = "number"\ndefault = "abc"\n', "'abc' is not a valid number value"),
    ('name = "S"\nfrom = "X"\ntype = "choice"\nchoices = ["A"]\ndefault = "B"\n', "not one of the choices"),
    ('name = "Flag"\nfrom = "X"\ntype = "boolean"\ndefault = "yes"\n', "not a valid boolean value"),
])
def test_defaults_are_checked_when_the_mapping_loads(tmp_path, column, fragment):
    path = tmp_path / "d.toml"
    path.write_text(APP + "\n[[column]]\n" + column)
    with pytest.raises(ConfigError) as info:
        load_mapping(str(path))
    assert fragment in str(info.value) and str(info.value).startswith(f"{path}:")


def test_list_names_follow_sharepoint_rules(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text(APP.replace('name = "Topics"', 'name = "Orders/2024: a?b"'))
    with pytest.raises(ConfigError) as info:
        load_mapping(str(path))
    assert f"{path}:6: list.name:" in str(info.value)
