"""Planning real Domino exports (../shared/corpus/dxl-real): every document accounted for, payloads well-formed.

Skipped when the corpus is absent. The custom mapping is ours (tests/fixtures/plan/plomino-billet.toml).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notes2m365.job import load_job
from notes2m365.plan import build_plan

from .conftest import CORPUS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plan"


@pytest.fixture
def corpus_job(tmp_path, corpus) -> Path:
    job = tmp_path / "corpus.toml"
    job.write_text(f"""[target]
graph_url = "http://127.0.0.1:8765/v1.0"
[identity]
internet_domains = ["acme.example"]
[[mailbox]]
source = "{CORPUS}/jnx-spam.xml"
mailbox = "jane.doe@acme.example"
mapping = "builtin:mail"
[[application]]
source = "{CORPUS}/plomino-test_100docs.xml"
site = "acme.sharepoint.com:/sites/teamroom"
mapping = "{FIXTURES}/plomino-billet.toml"
[[application]]
source = "{CORPUS}/plomino-test_binaries.xml"
site = "acme.sharepoint.com:/sites/archive"
mapping = "{FIXTURES}/plomino-billet.toml"
""")
    return job


def test_every_real_document_is_planned_or_counted(corpus_job):
    result = build_plan(load_job(corpus_job))
    summary = result.summary()
    assert summary["documents"] == 106 and not summary["errors"]
    created = sum(1 for op in result.operations if op.op.startswith("create-"))
    accounted = created + sum(summary["left_out"].values()) + sum(summary["unmapped_forms"].values())
    assert accounted == summary["documents"]
    assert summary["unmapped_forms"] == {"bigdocu": 10, "latest": 10, "otherForms": 10, "richtextForm": 10}
    message = next(op for op in result.operations if op.op == "create-message")
    assert message.payload["subject"] and message.payload["body"]["content"]
    uploads = [op for op in result.operations if op.op == "upload-file"]
    assert uploads and all(op.content[0].sha256 for op in uploads)
    for op in result.operations:
        json.loads(op.line(), parse_constant=lambda c: pytest.fail(f"{c} in {op.key}"))


def test_real_plan_is_deterministic(corpus_job):
    job = load_job(corpus_job)
    assert [op.line() for op in build_plan(job).operations] == [op.line() for op in build_plan(job).operations]
