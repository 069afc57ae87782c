"""Operations: the canonical JSON (orjson where it is certain to be the standard library's), size and hash."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest

from notes2m365.operations import ContentRef, Operation, canonical_bytes, canonical_json


def reference(value: Any) -> str:
    """What canonical_json always was: the standard library, sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


TRICKY = [
    "a\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f\u2028\u2029\"\\/é€𝄞", {"b": 1, "a": [True, False], "é": "x", "Z": "y", "\x01": 1},
    {"𝄞": 1, "\uffff": 2, "é": 3, "e": 4}, [2**63 - 1, -2**63, 2**63 + 5, 2**64 + 1], 1.5, 1e-07, 1.5e-05, 1e16,
    -0.0, float("nan"), float("inf"), float("-inf"), None, {"v": None}, {1: "int key"}, (1, "tuple"), True, 7,
    "looks like a float: ,1.5 and :2e5 and [3.25", "null", {"text": "v1.2 costs 25€, 0x0E07"},
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_canonical_json_is_the_standard_librarys_byte_for_byte(value):
    assert canonical_json(value) == reference(value)
    assert canonical_bytes(value) == reference(value).encode()


def test_canonical_json_matches_the_standard_library_on_random_values():
    rng = random.Random(20261128)
    keys = ["a", "B", "é", "\x01", "k:1.5", 'q"', "[2.5", ",1e5", "𝄞", ""]
    leaves = [None, True, False, 0, -5, 2**63, 2**64 + 1, 1.5, 1e-7, 1.5e-05, float("nan"), float("inf"), -0.0,
              1e16, "x:1.5", "null", ",2e5", "é\u2028\x00", "plain text", "0x0E07"]

    def value(depth: int = 0) -> Any:
        r = rng.random()
        if depth < 3 and r < 0.25:
            return {rng.choice(keys) + str(rng.randint(0, 3)): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 3 and r < 0.4:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        if r < 0.5:
            return struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        return rng.choice(leaves)

    for _ in range(20_000):
        v = value()
        assert canonical_json(v) == reference(v)


def test_a_lone_surrogate_behaves_as_before():
    assert canonical_json({"k": "\ud800"}) == reference({"k": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        canonical_bytes({"k": "\ud800"})


def test_size_and_hash_come_from_one_encoding_and_survive_evolve():
    payload = {"subject": "Grüße", "body": {"contentType": "html", "content": "<p>x</p>"}}
    ref = ContentRef("a.pdf", 10, "ab" * 32)
    plain = Operation("create-message", "mailbox:a@x/folder:inbox", "R/U", payload, content=(ref,))
    primed = Operation("create-message", "mailbox:a@x/folder:inbox", "R/U", payload,
                       content=(ref,)).measure(canonical_bytes(payload))
    assert primed.content_hash == plain.content_hash and primed.size == plain.size
    assert plain.size == len(reference(payload).encode()) + 10
    moved = primed.evolve(container="mailbox:a@x/folder:Projects", source_file="mail/a.dxl")
    assert moved.__dict__["_content_hash"] == primed.content_hash  # carried over, not computed again
    assert moved.content_hash == Operation(moved.op, moved.container, moved.key, payload,
                                           content=(ref,)).content_hash
    changed = primed.evolve(payload={**payload, "subject": "other"})
    assert "_content_hash" not in changed.__dict__ and changed.content_hash != primed.content_hash
    assert moved == Operation("create-message", "mailbox:a@x/folder:Projects", "R/U", payload, content=(ref,),
                              source_file="mail/a.dxl")  # measurements are not part of equality


def _dxl_files() -> list:
    from pathlib import Path
    root = Path(__file__).resolve().parent
    files = sorted((root.parent / "samples").rglob("*.dxl")) + sorted((root / "fixtures").rglob("*.dxl"))
    corpus = root.parent.parent / "shared" / "corpus" / "dxl-real"
    if corpus.is_dir():
        files += sorted(corpus.glob("*.dxl")) + sorted(corpus.glob("*.xml"))
    return files


def test_message_payloads_are_texts_only_so_orjson_is_the_standard_librarys(tmp_path):
    """``canonical_bytes(..., texts_only=True)`` (the mail mapping's) skips the float check: every message
    planned from our samples and fixtures and from the real exports must give the standard library's bytes."""
    from notes2m365.job import load_job
    from notes2m365.plan import build_plan

    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from make_dxl import generate  # the benchmark's mail: names, dates, 25€, v1.2, 10%... in every field

    generated = []
    for kind in ("plain", "text"):
        generated.append(tmp_path / f"{kind}.dxl")
        generate(str(generated[-1]), kind, None, seed=11, quiet=True, count=60)
    messages = 0
    for n, path in enumerate(_dxl_files() + generated):
        job = tmp_path / f"job{n}.toml"
        job.write_text("\n".join([
            "[job]", 'name = "t"', "[target]", 'graph_url = "http://127.0.0.1:9/v1.0"', "[identity]",
            'fallback_domain = "acme.example"', 'fallback_orgs = ["Acme"]', "[[mailbox]]",
            f'source = "{path.as_posix()}"', 'mailbox = "jane.doe@acme.example"', 'mapping = "builtin:mail"']),
            encoding="utf-8")
        try:
            plan = build_plan(load_job(job))
        except Exception:  # a fixture that is not readable DXL at all: nothing planned from it
            continue
        for op in plan.operations:
            if op.op == "create-message":
                messages += 1
                assert canonical_bytes(op.payload, texts_only=True) == reference(op.payload).encode(), op.key
    assert messages >= 120
