"""Real Domino exports (../shared/corpus/dxl-real) migrated end to end into the emulator through the CLI.

Skipped when the corpus is absent.  The custom mapping of the plomino databases is ours
(tests/fixtures/plan/plomino-billet.toml); documents with Readers fields go to the archive site.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from notes2m365.cli import main
from notes2m365.job import load_job
from notes2m365.plan import build_plan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plan"


def corpus_job(path: Path, sources: str) -> Path:
    """A job file over real exports: the common tables, then ``sources`` (TOML)."""
    path.write_text("""[job]
state = "state.sqlite"
[target]
graph_url = "http://127.0.0.1:9/v1.0"
[identity]
internet_domains = ["acme.example"]
fallback_domain = "acme.example"
""" + sources, encoding="utf-8")
    return path


def write_job(tmp_path: Path, corpus: Path) -> Path:
    return corpus_job(tmp_path / "corpus.toml", f"""[[mailbox]]
source = "{corpus}/jnx-spam.xml"
mailbox = "jane.doe@acme.example"
mapping = "builtin:mail"
[[application]]
source = "{corpus}/plomino-test_100docs.xml"
site = "acme.sharepoint.com:/sites/teamroom"
mapping = "{FIXTURES}/plomino-billet.toml"
restricted = "acme.sharepoint.com:/sites/archive"
[[application]]
source = "{corpus}/plomino-test_binaries.xml"
site = "acme.sharepoint.com:/sites/teamroom"
mapping = "{FIXTURES}/plomino-billet.toml"
""")


def test_real_exports_migrate_completely_and_a_rerun_writes_nothing(emulator, tmp_path, corpus):
    job = write_job(tmp_path, corpus)
    planned = [op for op in build_plan(load_job(job)).operations]
    args = ["migrate", str(job), "--graph-url", emulator.base_url, "--no-progress", "--json"]
    first = CliRunner().invoke(main, args)
    summary = json.loads(first.stdout[first.stdout.index("{"):])
    assert first.exit_code == 0, first.output
    assert summary["outcome"] == "complete" and not summary["failures"]
    assert sum(summary["counts"].values()) == len(planned)
    assert summary["counts"].get("created") == len(planned)
    second = CliRunner().invoke(main, args)
    again = json.loads(second.stdout[second.stdout.index("{"):])
    assert second.exit_code == 0 and again["counts"] == {"unchanged": len(planned)}
    assert again["graph"]["writes"] == 0
    status = CliRunner().invoke(main, ["status", str(job), "--json"])
    assert json.loads(status.stdout)["counts"]["done"] == len(planned)
    # and the target, read back, matches the source item by item (bodies, dates, people, fields, files)
    checked = CliRunner().invoke(main, ["verify", str(job), "--graph-url", emulator.base_url, "--no-progress",
                                        "--json", "--out", str(tmp_path / "verify")])
    report = json.loads(checked.stdout)
    problems = [item for item in report["items"] if item["status"] != "match"]
    assert checked.exit_code == 0 and not problems, problems[:5]
    assert report["counts"]["match"] == sum(op.op in ("create-message", "create-event", "create-contact",
                                                      "create-task", "create-list-item", "upload-file")
                                            for op in planned)


def test_real_typed_values_verify_clean_and_an_edited_number_is_named(emulator, graph, tmp_path, corpus):
    """Dates, numbers, choices, names and rich text written by Domino (the plomino typed test forms) through
    migrate and verify; then one number column changed in the target is named with both values."""
    job = corpus_job(tmp_path / "types.toml", f"""[[application]]
source = "{corpus}/plomino-test_*_type*.xml"
site = "acme.sharepoint.com:/sites/teamroom"
mapping = "{FIXTURES}/plomino-types.toml"
[[application]]
source = "{corpus}/plomino-test_richtext.xml"
site = "acme.sharepoint.com:/sites/teamroom"
mapping = "{FIXTURES}/plomino-types.toml"
""")
    migrate = CliRunner().invoke(main, ["migrate", str(job), "--graph-url", emulator.base_url, "--no-progress"])
    assert migrate.exit_code == 0, migrate.output
    args = ["verify", str(job), "--graph-url", emulator.base_url, "--no-progress", "--json", "--out",
            str(tmp_path / "verify")]
    clean = json.loads(CliRunner().invoke(main, args).stdout)
    assert clean["ok"] and clean["counts"]["match"] >= 9, [i for i in clean["items"] if i["status"] != "match"]
    site = graph.get("/sites/acme.sharepoint.com:/sites/teamroom").json()["id"]
    lists = graph.get(f"/sites/{site}/lists").json()["value"]
    list_id = next(item["id"] for item in lists if item["displayName"] == "PlominoTypes")
    items = graph.get(f"/sites/{site}/lists/{list_id}/items", params={"$expand": "fields"}).json()["value"]
    numbered = next(item for item in items if item["fields"].get("Nb1") is not None)
    assert graph.patch(f"/sites/{site}/lists/{list_id}/items/{numbered['id']}/fields",
                       json={"Nb1": 99}).status_code == 200
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    changed = [i for i in json.loads(result.stdout)["items"] if i["status"] == "differs"]
    assert len(changed) == 1 and changed[0]["key"] == numbered["fields"]["NotesKey"]
    assert changed[0]["differences"] == [{"field": "Nb1", "expected": str(numbered["fields"]["Nb1"]),
                                          "actual": "99"}]
