"""Shared test helpers: where the real corpus lives, and DXL builders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
CORPUS = REPO.parent / "shared" / "corpus" / "dxl-real"
NS = "http://www.lotus.com/dxl"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".dxl", ".xml"))


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("real DXL corpus ../shared/corpus/dxl-real is absent")
    return CORPUS


def unid(n: int) -> str:
    return f"{n:032X}"


def document(n: int, items: str = "", *, form: str = "Memo", extra_attrs: str = "", noteinfo: str | None = None) -> str:
    info = noteinfo if noteinfo is not None else (
        f"<noteinfo noteid='{n:x}' unid='{unid(n)}' sequence='3'>"
        "<created><datetime>20240312T091502,17+01</datetime></created>"
        "<modified><datetime dst='true'>20240612T101502,00+02</datetime></modified></noteinfo>"
    )
    return f"<document form='{form}'{extra_attrs}>{info}{items}</document>\n"


def database(body: str, *, ns: bool = True, doctype: str = "<!DOCTYPE database SYSTEM 'xmlschemas/domino_12_0.dtd'>") -> bytes:
    xmlns = f" xmlns='{NS}'" if ns else ""
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f"{doctype}\n"
        f"<database{xmlns} version='12.0' replicaid='C1257A2B0034F00D' title='Test'>\n"
        f"{body}</database>\n"
    ).encode("utf-8")


def write(tmp_path: Path, data: bytes | str, name: str = "test.dxl") -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p
