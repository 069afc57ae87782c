"""Golden tests: the samples' conversion (JSON and HTML) is byte-identical to the reviewed files."""

from __future__ import annotations

import pytest

from .make_golden import golden_name, render, sample_files

SAMPLES = sample_files()


@pytest.mark.parametrize("fmt", ["json", "html"])
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_golden(sample, fmt):
    expected = golden_name(sample, fmt)
    assert expected.exists(), f"missing golden file {expected}: run python -m tests.make_golden"
    assert render(sample, fmt) == expected.read_text("utf-8"), (
        f"{sample.name} ({fmt}) differs from {expected.name}; if intended, run python -m tests.make_golden and review the diff"
    )


def test_samples_exist():
    assert len(SAMPLES) >= 5
