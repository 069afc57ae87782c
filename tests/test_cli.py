"""The command line end to end: inspect and convert on our own fixtures, exit codes, stdout/stderr."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner
from lxml import etree

from notes2m365.cli import main

from .conftest import SAMPLES as SAMPLES_DIR, database, document, unid, write

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def sample(tmp_path):
    body = ("<item name='Body'><richtext><pardef id='1' list='bullet'/><par def='1'><run><font style='bold'/>Hello</run></par>"
            f"<par><picture width='1px' height='1px'><png>{base64.b64encode(PNG).decode()}</png></picture></par>"
            "<table><tablecolumn width='1in'/><tablerow><tablecell>cell</tablecell></tablerow></table></richtext></item>"
            "<item name='Notes'><richtext><par>second</par></richtext></item>")
    att = ("<item name='$FILE'><object><file hosttype='msdos' name='a.txt'><created><datetime>20240101T120000,00+01</datetime></created>"
           "<modified><datetime>20240101T120000,00+01</datetime></modified><filedata>aGVsbG8=</filedata></file></object></item>")
    items = "<item name='Subject'><text>Greetings</text></item>" + body.replace("<item name='Body'>", att + "<item name='Body'>")
    return write(tmp_path, database(document(1, items) + document(2, "<item name='Subject'><text>Second</text></item>", form="Reply")))


def test_inspect_json(tmp_path):
    result = CliRunner().invoke(main, ["inspect", "--json", str(sample(tmp_path))])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["documents"] == 2 and data["by_form"] == {"Memo": 1, "Reply": 1}
    assert data["attachments"]["count"] == 1 and data["attachments"]["bytes"] == 5
    assert data["errors"] == []
    assert data["forms"]["Memo"]["items"]["Subject"]["fill_rate"] == 1.0
    assert data["richtext_features"]["table"] >= 1 and data["inline_images"] == 1
    assert data["files"][0]["documents"] == 2


def test_inspect_table_and_error_exit(tmp_path):
    good = sample(tmp_path)
    bad = write(tmp_path, database(document(3) + document(3)), "bad.dxl")
    result = CliRunner().invoke(main, ["inspect", str(good), str(bad)])
    assert result.exit_code == 1
    assert "Documents by form" in result.stdout and "duplicate UNID" in result.stdout
    assert "Traceback" not in result.output


def test_inspect_missing_file_is_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "nope.dxl")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_convert_json_lines(tmp_path):
    result = CliRunner().invoke(main, ["convert", str(sample(tmp_path))])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["unid"] for d in lines] == [unid(1), unid(2)]
    first = lines[0]
    assert first["attachments"][0]["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert first["created"] == "2024-03-12T09:15:02.170000+01:00"
    assert next(i for i in first["items"] if i["name"] == "Body")["html"].startswith('<div data-item="Body"')


def test_convert_html_body_first_and_unid_filter(tmp_path):
    result = CliRunner().invoke(main, ["convert", str(sample(tmp_path)), "--format", "html", "--unid", unid(1).lower()])
    assert result.exit_code == 0
    page = etree.fromstring(result.stdout.split("\n", 1)[1].encode())  # after the doctype line
    items = [d.get("data-item") for d in page.iter("div") if d.get("data-item")]
    assert items == ["Body", "Notes"]
    assert page.xpath("//img/@src")[0].startswith("cid:")
    assert len(page.xpath("//article")) == 1


def test_convert_unknown_unid_fails(tmp_path):
    result = CliRunner().invoke(main, ["convert", str(sample(tmp_path)), "--unid", "F" * 32])
    assert result.exit_code == 1


def test_convert_out_dir(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(sample(tmp_path)), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0
    html = (out / f"{unid(1)}.html").read_text()
    assert f'src="{unid(1)}.files/' in html
    assert (out / f"{unid(1)}.files" / "a.txt").read_bytes() == b"hello"


def test_inspect_jobs_gives_the_same_inventory(tmp_path):
    from .conftest import SAMPLES

    files = [str(p) for p in sorted(SAMPLES.rglob("*.dxl"))]
    one = CliRunner().invoke(main, ["inspect", "--json", *files])
    two = CliRunner().invoke(main, ["inspect", "--json", "--jobs", "2", *files])
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    assert json.loads(one.stdout)["documents"] == 32


# -- notes2m365 emulator ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["--set", "foo.bar=1"], "unknown section"),
    (["--set", "throttle.nope=1"], "unknown setting"),
    (["--set", "throttle.mailbox_requests=many"], "not a valid int"),
    (["--set", "switches.upload_session_on_non_draft"], "expected NAME=VALUE"),
    (["--tenant", "/no/such/tenant.toml"], "cannot read tenant file"),
])
def test_emulator_bad_settings_exit_2_with_a_message(args, message):
    result = CliRunner().invoke(main, ["emulator", *args])
    assert result.exit_code == 2 and message in result.output


def test_emulator_serves_until_ctrl_c(tmp_path):
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "notes2m365.cli", "emulator", "--port", str(port),
                             "--data", str(tmp_path / "state"), "--set", "throttle.mailbox_requests=50"],
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1.0/users/jane.doe@acme.example",
                              headers={"Authorization": "Bearer t"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["displayName"] == "Jane Doe"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert f"http://127.0.0.1:{port}/v1.0" in stderr and "emulator stopped" in stderr
    assert (tmp_path / "state" / "graph.sqlite").exists()


# -- notes2m365 plan -------------------------------------------------------------------------------------
def app_job(tmp_path, mapping: str = "builtin:teamroom") -> str:
    job = tmp_path / "job.toml"
    job.write_text(f'[target]\ngraph_url = "http://127.0.0.1:8765/v1.0"\n[identity]\nmap = "{SAMPLES_DIR}/identity.csv"\n'
                   f'[[application]]\nsource = "{SAMPLES_DIR}/apps/teamroom-discussion.dxl"\n'
                   f'site = "acme.sharepoint.com:/sites/teamroom"\nmapping = "{mapping}"\n')
    return str(job)


def test_plan_writes_identical_files_and_a_summary(tmp_path):
    job = app_job(tmp_path)
    runner = CliRunner()
    first = runner.invoke(main, ["plan", job, "--out", str(tmp_path / "a.jsonl")])
    second = runner.invoke(main, ["plan", job, "--out", str(tmp_path / "b.jsonl")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert "5 documents read" in first.output and "estimated duration" in first.output
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert lines[0]["op"] == "ensure-list" and all("hash" in line and "requests" in line for line in lines)


def test_plan_json_summary(tmp_path):
    result = CliRunner().invoke(main, ["plan", app_job(tmp_path), "--out", str(tmp_path / "p.jsonl"), "--json"])
    summary = json.loads(result.output)
    assert summary["documents"] == 5 and summary["operations"]["create-list-item"] == 2
    assert summary["left_out"] == {"documents with Readers fields (restricted = skip)": 3}


def test_plan_with_a_mapping_typo_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[mapping]\nkind = "application"\nforms = ["MainTopic"]\n[list]\nname = "L"\n'
                   '[[column]]\nname = "Title"\nfrom = "Subject"\ntyp = "text"\n')
    result = CliRunner().invoke(main, ["plan", app_job(tmp_path, str(bad))])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {bad}:9: column[1].typ: unknown key (known: choices, default, expr, " \
                                    "fill_in, from, indexed, multi, name, required, type)"


def test_inspect_takes_a_job_file():
    result = CliRunner().invoke(main, ["inspect", str(SAMPLES_DIR / "demo.toml"), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["documents"] == 32


def test_plan_into_a_missing_directory_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["plan", app_job(tmp_path), "--out", str(tmp_path / "no" / "p.jsonl")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "cannot write the plan" in result.output


def test_plan_flags_override_the_job_filters(tmp_path):
    result = CliRunner().invoke(main, ["plan", app_job(tmp_path), "--out", str(tmp_path / "p.jsonl"), "--json",
                                       "--form", "MainTopic"])
    summary = json.loads(result.output)
    assert summary["operations"]["create-list-item"] == 1 and summary["left_out"] == {
        "filtered out by the job": 3, "documents with Readers fields (restricted = skip)": 1}
    result = CliRunner().invoke(main, ["plan", app_job(tmp_path), "--since", "2030-01-01", "--until", "2020-01-01"])
    assert result.exit_code == 2 and "is before since" in result.output
