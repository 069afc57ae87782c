"""Renderers of the verify report: terminal, CSV, JSON, self-contained HTML, per-user reports, and a real browser."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from notes2m365.verifyreport import (
    render_html,
    render_terminal,
    safe_file_stem,
    write_csv,
    write_html,
    write_json,
    write_per_user,
)
from notes2m365.verifyresult import ContainerCount, Difference, ItemResult, VerifyReport

REPO = Path(__file__).resolve().parents[1]
JANE = "jane.doe@acme.example"
JOHN = "john.o'brien@acme.example"
SITE = "acme.sharepoint.com:/sites/teamroom"
R = "85257C1A0042F1A3"


def key(n: int) -> str:
    return f"{R}/{n:032X}"


def make_report(*, sample: bool = False) -> VerifyReport:
    items = [
        ItemResult(JANE, "Inbox", key(1), "message", "Protokoll März 2024", "match",
                   url="https://outlook.office.com/mail/id/AAMk1", source="mail/jane.dxl"),
        ItemResult(JANE, "Inbox", key(2), "message", "Budget 2025 – Entwurf", "missing",
                   detail="no message carries this source key", source="mail/jane.dxl"),
        ItemResult(JANE, "Inbox/Projects", key(3), "message", "<script>alert(1)</script>", "differs",
                   differences=[Difference("subject", "Réunion <équipe>", "Reunion equipe"),
                                Difference("received", "2024-03-12T09:15:02+01:00", "2024-03-12T10:15:02+01:00")],
                   url="javascript:alert(1)"),
        ItemResult(JANE, "Calendar", key(4), "event", "=HYPERLINK(\"http://evil.example\",\"click\")", "extra",
                   detail="second copy of the same source key"),
        ItemResult(JOHN, "Contacts", key(5), "contact", "Zoë Ångström", "match"),
        ItemResult(JOHN, "Tasks", key(6), "task", "@SUM(A1:A2)", "error",
                   detail="GET /users/john/todo/lists failed: 503 Service Unavailable"),
        ItemResult(SITE, "list TeamRoom", key(7), "list item", "Kick-off: agenda", "match",
                   url="https://acme.sharepoint.com/sites/teamroom/Lists/TeamRoom/DispForm.aspx?ID=7"),
        ItemResult(SITE, "library Documents", key(7) + "#att/1", "file", "-Plan \"final\".docx", "missing",
                   detail="file not found in the library"),
    ]
    containers = [
        ContainerCount(JANE, "Inbox", source=2, target_found=1, other=3),
        ContainerCount(JANE, "Inbox/Projects", source=1, target_found=1),
        ContainerCount(JANE, "Calendar", source=0, target_found=1),
        ContainerCount(JOHN, "Contacts", source=1, target_found=1),
        ContainerCount(JOHN, "Tasks", source=1, target_found=0),
        ContainerCount(SITE, "list TeamRoom", source=1, target_found=1, other=2),
        ContainerCount(SITE, "library Documents", source=1, target_found=0),
    ]
    return VerifyReport(job="samples/demo.toml", started="2024-06-12T08:00:00Z", finished="2024-06-12T08:01:30Z",
                        sample_percent=10.0 if sample else None, seed=7 if sample else None,
                        items=items, containers=containers,
                        left_out={"design notes": 12, "form Reservation (no mapping)": 3},
                        unreadable=["apps/broken.dxl"], graph_requests=42,
                        notes=["extras not searched: sample"] if sample else [])


MISSING_KEYS = (key(2), key(7) + "#att/1")


# -- terminal -----------------------------------------------------------------------------------

def test_terminal_counts_and_problem_items() -> None:
    text = render_terminal(make_report())
    first = text.splitlines()[0]
    assert first == "verify: 8 items: 3 match, 2 missing, 1 differs, 1 extra, 1 error"
    assert f"  {JANE}: 4 items: 1 match, 1 missing, 1 differs, 1 extra" in text
    assert f"  {SITE}: 2 items: 1 match, 1 missing" in text
    for k in MISSING_KEYS:
        assert k in text
    assert key(3) in text and "subject: expected" in text and "received: expected" in text
    assert "Budget 2025 – Entwurf" in text
    assert "503 Service Unavailable" in text
    assert key(1) not in text and key(5) not in text          # matches are not listed
    assert "left out (not planned): design notes: 12, form Reservation (no mapping): 3; unreadable: 1" in text
    assert "sample" not in first
    assert "\x1b" not in text


def test_terminal_sample_limit_and_shortening() -> None:
    report = make_report(sample=True)
    long = "x" * 500
    report.items[2].differences.append(Difference("body", long, long + "y"))
    text = render_terminal(report, limit=2)
    assert text.splitlines()[0].endswith("(sample: 10% of items, seed 7)")
    assert "… 3 more in the report" in text
    assert "x" * 61 not in text
    assert "note: extras not searched: sample" in text


def test_terminal_strips_control_characters() -> None:
    report = make_report()
    report.items[1].title = "evil\x1b[2J\nnext line"
    text = render_terminal(report)
    assert "\x1b" not in text and "evil [2J next line" in text


def test_terminal_empty_report() -> None:
    text = render_terminal(VerifyReport(job="j", started="t"))
    assert text.startswith("verify: 0 items\n")


# -- CSV and JSON -------------------------------------------------------------------------------

def test_csv_round_trip_and_injection(tmp_path: Path) -> None:
    path = write_csv(make_report(), tmp_path / "report.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["match", "missing", "differs", "extra", "match", "error", "match", "missing"]
    assert list(rows[0]) == ["status", "target", "container", "kind", "key", "title", "fields", "differences",
                             "detail", "url", "source"]
    differs = rows[2]
    assert differs["fields"] == "subject;received"
    assert differs["differences"] == ("subject: expected Réunion <équipe>, found Reunion equipe | "
                                      "received: expected 2024-03-12T09:15:02+01:00, found 2024-03-12T10:15:02+01:00")
    assert rows[0]["title"] == "Protokoll März 2024" and rows[0]["source"] == "mail/jane.dxl"
    assert rows[3]["title"].startswith("'=HYPERLINK")
    assert rows[5]["title"] == "'@SUM(A1:A2)"
    assert rows[7]["title"] == "'-Plan \"final\".docx"
    assert rows[6]["title"] == "Kick-off: agenda"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value


def test_json_matches_as_json(tmp_path: Path) -> None:
    report = make_report(sample=True)
    path = write_json(report, tmp_path / "report.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == report.as_json()
    assert "März" in text                                     # not \u00e4
    assert text == write_json(report, tmp_path / "again.json").read_text(encoding="utf-8")


# -- HTML ---------------------------------------------------------------------------------------

def _assert_self_contained(page: str) -> None:
    low = page.lower()
    assert "<script>alert" not in low
    assert 'href="javascript:' not in low
    assert not re.search(r"<link\b", low)
    assert not re.search(r"<img\b[^>]*\bsrc=[\"']?(https?:)?//", low)
    assert not re.search(r"@import", low)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", low)
    assert not re.search(r"<script\b[^>]*\bsrc=", low)


def test_html_escaped_self_contained_and_complete() -> None:
    report = make_report(sample=True)
    page = render_html(report)
    _assert_self_contained(page)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page and '<meta charset="utf-8">' in page and 'name="viewport"' in page
    assert "@media print" in page
    for item in report.items:
        assert item.key in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Réunion &lt;équipe&gt;" in page
    assert "javascript:alert(1)" in page                     # shown as text, not as a link
    assert ('<a href="https://outlook.office.com/mail/id/AAMk1" target="_blank" rel="noopener noreferrer">'
            "Protokoll März 2024</a>") in page
    assert "john.o&#x27;brien@acme.example" in page
    assert "<dt>Sample</dt><dd>10% of items, seed 7</dd>" in page
    assert "5 problems" in page
    assert page.count("<section") == 3
    assert '<th scope="col">' in page
    assert "mismatch" in page


def test_html_problems_first_and_open_details() -> None:
    page = render_html(make_report())
    inbox = page[page.index("<summary>Inbox<"):]
    inbox = inbox[: inbox.index("</details>")]
    assert inbox.index(key(2)) < inbox.index(key(1))          # missing before match
    for block in re.findall(r"<details[^>]*>.*?</details>", page, flags=re.DOTALL):
        has_problem = re.search(r'class="row-(missing|differs|extra|error)"', block) is not None
        assert block.startswith("<details open>") == has_problem


def test_html_all_match() -> None:
    report = make_report()
    report.items = [i for i in report.items if i.status == "match"]
    page = render_html(report)
    assert "all match" in page and "problem" not in page.split("<main>")[1].split("</header>")[0]


def test_write_html_utf8(tmp_path: Path) -> None:
    path = write_html(make_report(), tmp_path / "r.html")
    assert "Protokoll März 2024" in path.read_text(encoding="utf-8")


# -- per user -----------------------------------------------------------------------------------

def test_per_user_writes_only_mailboxes_with_their_own_keys(tmp_path: Path) -> None:
    report = make_report()
    paths = write_per_user(report, tmp_path / "users")
    names = sorted(p.name for p in paths)
    john = safe_file_stem(JOHN)
    assert john == "john.o_brien@acme.example"
    assert names == sorted([f"{JANE}.html", f"{JANE}.csv", f"{john}.html", f"{john}.csv"])
    assert sorted(p.name for p in (tmp_path / "users").iterdir()) == names
    own = {JANE: {i.key for i in report.items if i.target == JANE},
           JOHN: {i.key for i in report.items if i.target == JOHN}}
    all_keys = {i.key for i in report.items}
    for upn, stem in ((JANE, JANE), (JOHN, john)):
        for suffix in (".html", ".csv"):
            text = (tmp_path / "users" / f"{stem}{suffix}").read_text(encoding="utf-8")
            for k in all_keys:
                assert (k in text) == (k in own[upn]), (upn, suffix, k)
            assert SITE not in text
        page = (tmp_path / "users" / f"{stem}.html").read_text(encoding="utf-8")
        _assert_self_contained(page)
        assert "Your migrated mailbox: " in page


def test_safe_file_stem() -> None:
    assert safe_file_stem("a/../b c@x.example") == "a_.._b_c@x.example"
    assert safe_file_stem("..") == "_"


# -- a real browser -----------------------------------------------------------------------------

def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI") or os.environ.get("NOTES2M365_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here but not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed (apt-get install chromium); the HTML report is not rendered in a browser")
    return exe


def _run_chromium(exe: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--window-size=1280,2000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    exe = _chromium()
    page = write_html(make_report(sample=True), tmp_path / "report.html")
    url = page.resolve().as_uri()

    png = tmp_path / "report.png"
    shot = _run_chromium(exe, tmp_path, f"--screenshot={png}", url)
    assert png.is_file(), f"no screenshot (exit {shot.returncode}): {shot.stderr[-2000:]}"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000

    dom = _run_chromium(exe, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<main>" in dom.stdout and "</main>" in dom.stdout
    for k in MISSING_KEYS:
        assert k in dom.stdout
    assert "received" in dom.stdout and "Protokoll März 2024" in dom.stdout
    assert "<script>alert" not in dom.stdout

    if os.environ.get("NOTES2M365_KEEP_SCREENSHOTS"):
        artifacts = REPO / "tests" / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copyfile(png, artifacts / "verify-report.png")
