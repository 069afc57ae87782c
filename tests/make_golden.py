"""Regenerate the golden files: ``python -m tests.make_golden`` from the repository root.

For every DXL file under ``samples/`` it writes, under ``tests/golden/``, the
``convert --format json`` output (JSON Lines) and the ``convert --format html``
output, and for the demo job the ``plan`` output (``tests/golden/plan/demo.jsonl``),
produced through the CLI exactly as a user would.  Review the diff
before committing: the golden files are the specification of the output.
"""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from notes2m365.cli import main

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"


def sample_files() -> list[Path]:
    return sorted(p for p in (REPO / "samples").rglob("*") if p.suffix in (".dxl", ".xml"))


def golden_name(sample: Path, fmt: str) -> Path:
    rel = sample.relative_to(REPO / "samples")
    return GOLDEN / rel.parent / f"{rel.stem}.{'jsonl' if fmt == 'json' else 'html'}"


def render(sample: Path, fmt: str) -> str:
    cwd = os.getcwd()
    os.chdir(REPO)  # paths in the output are relative to the repository
    try:
        result = CliRunner().invoke(main, ["convert", str(sample.relative_to(REPO)), "--format", fmt])
    finally:
        os.chdir(cwd)
    if result.exit_code != 0:
        raise RuntimeError(f"convert {sample} failed ({result.exit_code}): {result.output}")
    return result.stdout


PLAN_GOLDEN = GOLDEN / "plan" / "demo.jsonl"


def render_plan() -> str:
    """``notes2m365 plan samples/demo.toml`` as JSON Lines."""
    result = CliRunner().invoke(main, ["plan", str(REPO / "samples" / "demo.toml")])
    if result.exit_code != 0:
        raise RuntimeError(f"plan failed ({result.exit_code}): {result.output}")
    return result.stdout


def main_() -> None:
    PLAN_GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    PLAN_GOLDEN.write_text(render_plan(), "utf-8")
    print(PLAN_GOLDEN.relative_to(REPO))
    for sample in sample_files():
        for fmt in ("json", "html"):
            target = golden_name(sample, fmt)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(sample, fmt), "utf-8")
            print(target.relative_to(REPO))


if __name__ == "__main__":
    main_()
