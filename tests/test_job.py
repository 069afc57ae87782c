"""Job files: the demo job, overrides, and one-line errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from notes2m365.errors import ConfigError
from notes2m365.job import load_job
from notes2m365.tomlfile import format_path, parse_toml

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def write_job(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mail").mkdir(exist_ok=True)
    (tmp_path / "mail" / "a.dxl").write_text("<database/>")
    (tmp_path / "apps.dxl").write_text("<database/>")
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


EMULATOR = '[target]\ngraph_url = "http://127.0.0.1:8765/v1.0"\n'
MAILBOX = '[[mailbox]]\nsource = "mail/*.dxl"\nmailbox = "jane.doe@acme.example"\n'


def test_demo_job_resolves_its_sources():
    job = load_job(SAMPLES / "demo.toml")
    assert job.target.is_emulator and job.target.auth == "none"
    assert [Path(f).name for f in job.mailboxes[0].files] == ["jdoe-calendar.dxl", "jdoe-mail.dxl", "jdoe-todo.dxl"]
    assert job.mailboxes[0].folders.endswith("jdoe-mail.folders.csv")
    assert [s.mapping for s in job.sources] == ["builtin:mail", "builtin:contacts", "builtin:teamroom"]
    assert job.applications[0].target == "acme.sharepoint.com:/sites/teamroom"
    assert job.identity.map.endswith("identity.csv") and job.identity.fallback_orgs == ("Acme",)
    assert job.state.endswith("state/demo.sqlite") and ".." not in job.state


def test_overrides_replace_job_values(tmp_path):
    job = load_job(write_job(tmp_path, EMULATOR + MAILBOX),
                   {"graph_url": "http://localhost:9000/v1.0/", "concurrency": 8, "state": "x.sqlite"})
    assert (job.target.graph_url, job.concurrency, job.state) == ("http://localhost:9000/v1.0", 8, "x.sqlite")


def test_microsoft_365_target_with_a_secret_from_the_environment(tmp_path):
    job = load_job(write_job(tmp_path, '[target]\ntenant_id = "acme.onmicrosoft.com"\n'
                                       'client_id = "11111111-2222-3333-4444-555555555555"\n'
                                       'auth = "client_secret"\nclient_secret_env = "N2M_SECRET"\n' + MAILBOX))
    assert not job.target.is_emulator and job.target.client_secret_env == "N2M_SECRET"


@pytest.mark.parametrize("text,line,fragment", [
    (EMULATOR + MAILBOX.replace("mailbox =", "mailbx ="), 5, "mailbox[1].mailbx: unknown key"),
    (EMULATOR + MAILBOX.replace("jane.doe@acme.example", "jane.doe@"), 5, "mailbox[1].mailbox: 'jane.doe@' is not"),
    (EMULATOR + MAILBOX.replace("mail/*.dxl", "nothing/*.dxl"), 4, "mailbox[1].source: 'nothing/*.dxl' matches no"),
    (EMULATOR + MAILBOX + '[[application]]\nsource = "apps.dxl"\nsite = "acme.sharepoint.com:/sites/x"\n', 6,
     "'mapping' is required"),
    (EMULATOR + MAILBOX + '[[application]]\nsource = "apps.dxl"\nsite = "x:/s"\nmapping = "none.toml"\n', 9,
     "application[1].mapping: 'none.toml' is not a file"),
    ('[target]\ngraph_url = "http://example.com/v1.0"\n' + MAILBOX, 2, "plain http is only for an emulator"),
    ('[target]\ntenant_id = "t.example"\nclient_id = "11111111-2222-3333-4444-555555555555"\n'
     'auth = "client_secret"\nclient_secret = "hunter2"\n' + MAILBOX, 5, "secrets do not belong in job files"),
    ('[target]\nauth = "client_secret"\ntenant_id = "t.example"\nclient_id = "not-a-guid"\n' + MAILBOX, 4,
     "target.client_id: 'not-a-guid' is not a GUID"),
    ("[target]\n" + MAILBOX, 1, "'auth' is required for Microsoft 365"),
    (EMULATOR + "[job]\nconcurrency = 0\n" + MAILBOX, 4, "job.concurrency: must be between 1 and 64"),
    (EMULATOR + '[job]\nconcurrency = "4"\n' + MAILBOX, 4, "job.concurrency: must be an integer"),
    (EMULATOR + "[filters]\nsince = 2024-01-01\nuntil = 2023-01-01\n" + MAILBOX, 5, "filters.until: 2023-01-01 is"),
    (EMULATOR + '[identity]\npattern = "{first}.{surname}"\n' + MAILBOX, 4, "unknown placeholder {surname}"),
    (EMULATOR + MAILBOX + MAILBOX, None, "is already a source at line 3"),
    (EMULATOR, None, "nothing to migrate"),
    (EMULATOR + "[[mailbox]\n", 3, "not valid TOML"),
])
def test_errors_are_one_line_with_file_line_and_key(tmp_path, text, line, fragment):
    path = write_job(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    message = str(info.value)
    assert "\n" not in message and fragment in message
    assert message.startswith(f"{path}:{line}:" if line else str(path))


def test_line_index_follows_tables_arrays_and_dotted_keys():
    toml = parse_toml('a = 1\n[t]\n"quoted key" = 2\nx.y = 3\n[[arr]]\nk = 1\n[[arr]]\n\nk = """multi\nline\n"""\n'
                      'after = 1\n', "f.toml")
    assert toml.lines[("a",)] == 1 and toml.lines[("t", "quoted key")] == 3 and toml.lines[("t", "x", "y")] == 4
    assert toml.lines[("arr", 0, "k")] == 6 and toml.lines[("arr", 1, "k")] == 9
    assert toml.lines[("arr", 1, "after")] == 12
    assert format_path(("arr", 1, "k")) == "arr[2].k"


@pytest.mark.parametrize("text,line,fragment", [
    (EMULATOR + "[filters]\nsince = 2024-03-15T00:00:00\n" + MAILBOX, 4, "filters.since: must be a date (YYYY-MM-DD)"),
    (EMULATOR + MAILBOX + 'mapping = "builtin:nosuch"\n', 6, "mailbox[1].mapping: no such built-in mapping"),
])
def test_review_findings_give_one_line_errors(tmp_path, text, line, fragment):
    path = write_job(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    assert str(info.value).startswith(f"{path}:{line}:") and fragment in str(info.value)


def test_migrate_table_defaults_and_values(tmp_path):
    job = load_job(write_job(tmp_path, EMULATOR + MAILBOX))
    assert job.migrate.large_attachments == "onedrive" and job.migrate.batch_size == 20
    job = load_job(write_job(tmp_path, EMULATOR + MAILBOX + '[migrate]\nlarge_attachments = "draft"\n'
                                                              'item_attempts = 5\nrequests_per_second = 12.5\n'
                                                              'batch_size = 1\nmailbox_concurrency = 2\n'))
    m = job.migrate
    assert (m.large_attachments, m.item_attempts, m.requests_per_second, m.batch_size, m.mailbox_concurrency) == (
        "draft", 5, 12.5, 1, 2)


@pytest.mark.parametrize("text,fragment", [
    ('large_attachments = "email"', "migrate.large_attachments: must be onedrive, draft or skip"),
    ("batch_size = 21", "migrate.batch_size: must be between 1 and 20"),
    ("mailbox_concurrency = 5", "migrate.mailbox_concurrency: must be between 1 and 4"),
    ("item_attempts = 0", "migrate.item_attempts: must be between 1 and 20"),
    ("requests_per_second = -1", "migrate.requests_per_second: must be 0"),
    ('onedrive_folder = "a:b"', "migrate.onedrive_folder:"),
    ("retries = 3", "migrate.retries: unknown key"),
    ("site_workers = 0", "migrate.site_workers: must be between 1 and 64"),
    ("mailbox_window_s = 0", "migrate.mailbox_window_s: must be more than 0"),
    ("in_flight_grace = -1", "migrate.in_flight_grace: must be between 0 and 3600"),
])
def test_migrate_table_errors_name_the_key(tmp_path, text, fragment):
    path = write_job(tmp_path, EMULATOR + MAILBOX + "[migrate]\n" + text + "\n")
    with pytest.raises(ConfigError) as err:
        load_job(path)
    assert fragment in str(err.value) and "job.toml:" in str(err.value)


@pytest.mark.parametrize("setting, cores, sources, workers", [
    (0, 2, 20, 1),   # automatic: a core is left to the migrating process
    (0, 8, 20, 4),   # at most four
    (0, 3, 4, 2),
    (0, 1, 20, 0),   # one core: planned in the migrating process
    (0, 8, 3, 0),    # fewer than four sources: not worth a worker
    (1, 8, 20, 0),   # 1: none
    (3, 2, 20, 3),   # as set
])
def test_planning_workers(monkeypatch, setting, cores, sources, workers):
    from notes2m365.job import MigrateSettings
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert MigrateSettings(plan_processes=setting).planning_workers(sources) == workers
