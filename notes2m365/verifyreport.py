"""Rendering what ``notes2m365 verify`` found: terminal summary, CSV, JSON, HTML, one report per mailbox owner.

This module owns the presentation of a :class:`~notes2m365.verifyresult.VerifyReport`
(the model lives in :mod:`notes2m365.verifyresult`, the comparison in
:mod:`notes2m365.verify`).  Everything here is a pure function of the report:

- :func:`render_terminal`: counts, counts per target, the first problem items, what the plan left out;
- :func:`write_csv`: one row per item, spreadsheet-safe (cells that a spreadsheet would run as a
  formula are prefixed with a quote: titles come from user data);
- :func:`write_json`: the report's ``as_json()``, pretty-printed with sorted keys;
- :func:`render_html` / :func:`write_html`: one self-contained HTML5 page (inline CSS, no external
  assets, readable without JavaScript, every user-derived text escaped, links only for http(s) URLs);
- :func:`write_per_user`: one HTML and one CSV report per mailbox owner, for them to check their own mailbox.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from collections import Counter
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from .verifyresult import PROBLEMS, STATUSES, ItemResult, VerifyReport

CSV_FIELDS = ("status", "target", "container", "kind", "key", "title", "fields", "differences",
              "detail", "url", "source")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9@._-]")
_STATUS_ORDER = {s: n for n, s in enumerate(("error", "missing", "differs", "extra", "match"))}


# -- shared helpers -----------------------------------------------------------------------------

def _plain(text: str) -> str:
    """``text`` on one line, without control characters (no terminal escapes from user data)."""
    return _CONTROL.sub(" ", text or "").strip()


def _short(text: str, width: int = 60) -> str:
    text = _plain(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _percent(value: float) -> str:
    return f"{value:g}%"


def _sample_text(report: VerifyReport) -> str:
    if report.sample_percent is None:
        return ""
    seed = f", seed {report.seed}" if report.seed is not None else ""
    return f"sample: {_percent(report.sample_percent)} of items{seed}"


def _counts_text(counts: Counter[str]) -> str:
    """``31 items: 29 match, 1 missing, 1 differs`` (only the statuses that occur)."""
    total = sum(counts.values())
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
    noun = "item" if total == 1 else "items"
    return f"{total} {noun}: {', '.join(parts)}" if parts else f"{total} {noun}"


def _problem_count(report: VerifyReport) -> int:
    return sum(1 for i in report.items if i.status in PROBLEMS)


def _left_out_text(report: VerifyReport) -> str:
    parts = [f"{reason}: {n}" for reason, n in sorted(report.left_out.items()) if n]
    left = ", ".join(parts) if parts else "none"
    return f"left out (not planned): {left}; unreadable: {len(report.unreadable)}"


def _safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL without control characters, else None."""
    if not url or _CONTROL.search(url) or url != url.strip():
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _is_mailbox(target: str) -> bool:
    return "@" in target


def _sorted_for_display(items: list[ItemResult]) -> list[ItemResult]:
    """Problems first (error, missing, differs, extra), then matches; report order within a status."""
    return sorted(items, key=lambda i: _STATUS_ORDER.get(i.status, -1))


# -- terminal -----------------------------------------------------------------------------------

def _terminal_item(item: ItemResult) -> list[str]:
    title = f' "{_short(item.title)}"' if item.title else ""
    head = f"  {item.status.upper():8} {_plain(item.target)}  {_short(item.container)}  {_plain(item.key)}{title}"
    lines = [head]
    for d in item.differences:
        lines.append(f'      {_plain(d.field)}: expected "{_short(d.expected)}", found "{_short(d.actual)}"')
    if item.detail:
        lines.append(f"      {_short(item.detail, 120)}")
    return lines


def render_terminal(report: VerifyReport, *, limit: int = 20) -> str:
    """A short plain-text summary: counts, counts per target, up to ``limit`` problem items, what was left out."""
    limit = max(limit, 0)
    head = f"verify: {_counts_text(report.counts())}"
    sample = _sample_text(report)
    out = [f"{head} ({sample})" if sample else head]
    for target in report.targets():
        items = [i for i in report.items if i.target == target]
        out.append(f"  {_plain(target)}: {_counts_text(report.counts(items))}")
    problems = [i for i in report.items if i.status in PROBLEMS]
    if problems:
        out.append("problems:")
        for item in problems[:limit]:
            out += _terminal_item(item)
        if len(problems) > limit:
            out.append(f"  … {len(problems) - limit} more in the report")
    out.append(_left_out_text(report))
    out += [f"note: {_plain(n)}" for n in report.notes]
    return "\n".join(out) + "\n"


# -- CSV and JSON -------------------------------------------------------------------------------

def _cell(value: str | None) -> str:
    """The cell text, with a leading quote when a spreadsheet would read it as a formula."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(item: ItemResult) -> dict[str, str]:
    row = {
        "status": item.status, "target": item.target, "container": item.container, "kind": item.kind,
        "key": item.key, "title": item.title,
        "fields": ";".join(d.field for d in item.differences),
        "differences": " | ".join(str(d) for d in item.differences),
        "detail": item.detail, "url": item.url or "", "source": item.source or "",
    }
    return {k: _cell(v) for k, v in row.items()}


def write_csv(report: VerifyReport, path: str | Path) -> Path:
    """One row per item (columns :data:`CSV_FIELDS`), UTF-8 with a header row."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for item in report.items:
            writer.writerow(_csv_row(item))
    return path


def write_json(report: VerifyReport, path: str | Path) -> Path:
    """``report.as_json()``, pretty-printed with sorted keys, UTF-8."""
    path = Path(path)
    text = json.dumps(report.as_json(), indent=2, ensure_ascii=False, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# -- HTML ---------------------------------------------------------------------------------------

def _e(text: object) -> str:
    return escape(str(text if text is not None else ""), quote=True)


_CSS = r"""
:root{--fg:#1b1f24;--muted:#4d5560;--line:#d4d9df;--bg:#fff;--soft:#f5f7f9;
--match-bg:#e3f3e6;--match-fg:#0b5a23;--missing-bg:#fde4e4;--missing-fg:#8c1010;
--differs-bg:#fff1c7;--differs-fg:#6a4700;--extra-bg:#e4e9fb;--extra-fg:#23358c;
--error-bg:#f3e3f6;--error-fg:#6b1480}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem 2rem 3rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Liberation Sans","DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:80rem;margin:0 auto}
h1{font-size:1.6rem;margin:0 0 .4rem}
h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-bottom:.25rem;border-bottom:2px solid var(--line)}
h2 small{font-weight:normal;color:var(--muted);font-size:.85rem;margin-left:.5rem}
.meta{display:flex;flex-wrap:wrap;gap:.2rem 1.5rem;margin:.3rem 0 1rem;color:var(--muted)}
.meta dt{display:inline;font-weight:600;color:var(--fg)}
.meta dd{display:inline;margin:0 0 0 .3rem}
.overall{display:inline-block;padding:.25rem .8rem;border-radius:1rem;font-weight:700;font-size:1rem}
.overall.ok{background:var(--match-bg);color:var(--match-fg)}
.overall.bad{background:var(--missing-bg);color:var(--missing-fg)}
.tiles{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0;padding:0;list-style:none}
.tile{min-width:8.5rem;padding:.6rem .9rem;border-radius:.5rem;border-left:6px solid currentColor}
.tile b{display:block;font-size:1.7rem;line-height:1.1}
.tile span{font-weight:600}
.tile.zero{opacity:.6}
.s-match{background:var(--match-bg);color:var(--match-fg)}
.s-missing{background:var(--missing-bg);color:var(--missing-fg)}
.s-differs{background:var(--differs-bg);color:var(--differs-fg)}
.s-extra{background:var(--extra-bg);color:var(--extra-fg)}
.s-error{background:var(--error-bg);color:var(--error-fg)}
.badge{display:inline-block;min-width:4.7rem;text-align:center;padding:.05rem .45rem;border-radius:.3rem;
font-size:.8rem;font-weight:700;text-transform:uppercase;letter-spacing:.03em;border:1px solid currentColor}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .55rem;border-bottom:1px solid var(--line)}
thead th{background:var(--soft);font-size:.85rem;color:var(--muted);border-bottom:2px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.mismatch td{background:#fff8f8}
.mark{font-weight:700;color:var(--missing-fg);white-space:nowrap}
.okmark{color:var(--match-fg);white-space:nowrap}
thead th{white-space:nowrap}
code,.key{font-family:"DejaVu Sans Mono","Liberation Mono",Consolas,monospace;font-size:.74rem;
color:var(--muted);word-break:break-all}
details{border:1px solid var(--line);border-radius:.4rem;margin:.5rem 0;background:var(--bg)}
details[open]{padding-bottom:.2rem}
summary{cursor:pointer;padding:.5rem .8rem;background:var(--soft);border-radius:.4rem;font-weight:600}
summary .sc{font-weight:normal;color:var(--muted);margin-left:.6rem}
details table{margin:0;width:100%;table-layout:fixed;min-width:44rem}
.scroll{overflow-x:auto}
.scroll>table.counts{min-width:40rem}
h1,h2,summary{overflow-wrap:anywhere}
@media (max-width:40rem){body{padding:1rem .8rem 2rem}}
details th:first-child{padding-left:.8rem;width:7.5rem}
details td:first-child{padding-left:.8rem}
details th:nth-child(2){width:6rem}
details th:nth-child(3){width:45%}
details td{overflow-wrap:anywhere}
.diffs{margin:0;padding:0;list-style:none}
.diffs li{margin:0 0 .3rem}
.diffs .f{font-weight:600}
.diffs dl{margin:.1rem 0 0 .8rem;font-size:.88rem}
.diffs dl>div{display:flex;flex-wrap:wrap;gap:0 .5rem}
.diffs dt{color:var(--muted);flex:0 0 4.2rem}
.diffs dd{margin:0;flex:1 1 10rem;min-width:0;overflow-wrap:anywhere}
.detail{color:var(--muted);word-break:break-word}
.notes{background:var(--soft);border-radius:.4rem;padding:.6rem 1rem .6rem 2rem}
.filter{margin:.5rem 0;font-size:.9rem}
#only-problems:checked~main tr.row-match{display:none}
.filter label{cursor:pointer;border:1px solid var(--line);border-radius:.3rem;padding:.2rem .6rem;background:var(--soft)}
.filter label::before{content:"\2610\00a0"}
#only-problems:checked~main .filter label::before{content:"\2611\00a0"}
#only-problems:focus-visible~main .filter label{outline:2px solid #0b4fa8;outline-offset:2px}
a{color:#0b4fa8}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media print{
body{padding:0;font-size:10pt}
.filter,#only-problems{display:none}
details{border:none}
summary{background:none;padding-left:0;list-style:none}
details::details-content{content-visibility:visible}
a{color:inherit;text-decoration:none}
tr{break-inside:avoid}
h2{break-after:avoid}
.scroll{overflow:visible}
details table,.scroll>table.counts{min-width:0}
.tile,.badge,.overall,tr.mismatch td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
""".strip()

# Opens every container before printing (closed <details> would print closed); the page needs no script to be read.
_SCRIPT = "addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true})});"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_CSP = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
        "img-src data:; base-uri 'none'; form-action 'none'")


def _badge(status: str) -> str:
    return f'<span class="badge s-{_e(status)}">{_e(status)}</span>'


def _link(text: str, url: str | None) -> str:
    safe = _safe_url(url)
    if safe:
        return f'<a href="{_e(safe)}" target="_blank" rel="noopener noreferrer">{_e(text)}</a>'
    label = _e(text)
    return f'{label}<br><span class="detail">link: {_e(url)}</span>' if url else label


def _html_header(report: VerifyReport, title: str) -> str:
    problems = _problem_count(report)
    overall = ('<span class="overall ok">all match</span>' if not problems else
               f'<span class="overall bad">{problems} problem{"s" if problems != 1 else ""}</span>')
    meta = [("Job", report.job), ("Started", report.started), ("Finished", report.finished or "—")]
    sample = _sample_text(report)
    meta.append(("Sample", sample[len("sample: "):]) if sample else ("Compared", "every item"))
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in meta)
    return f"<header><h1>{_e(title)}</h1><p>{overall}</p><dl class=\"meta\">{dl}</dl></header>"


def _html_tiles(report: VerifyReport) -> str:
    counts = report.counts()
    tiles = "".join(
        f'<li class="tile s-{s}{" zero" if not counts[s] else ""}"><b>{counts[s]}</b><span>{s}</span></li>'
        for s in STATUSES)
    return f'<ul class="tiles" aria-label="Items per status">{tiles}</ul>'


def _html_run_notes(report: VerifyReport) -> str:
    lines = [_left_out_text(report)] if (report.left_out or report.unreadable) else []
    lines += list(report.notes)
    if not lines:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in lines) + "</ul>"


def _container_rows(report: VerifyReport) -> str:
    rows = []
    for c in report.containers:
        bad = c.source != c.target_found
        mark = (f'<span class="mark" title="source and target differ">✗ mismatch ({c.target_found - c.source:+d})</span>'
                if bad else '<span class="okmark">✓ equal</span>')
        cls = ' class="mismatch"' if bad else ""
        rows.append(
            f'<tr{cls}><td>{_e(c.target)}</td><td>{_e(c.container)}</td>'
            f'<td class="num">{c.source}</td><td class="num">{c.target_found}</td>'
            f'<td class="num">{c.other}</td><td>{mark}</td></tr>')
    return "".join(rows)


def _html_containers(report: VerifyReport) -> str:
    if not report.containers:
        return ""
    head = ("<tr><th scope=\"col\">Target</th><th scope=\"col\">Container</th>"
            "<th scope=\"col\" class=\"num\">In source</th><th scope=\"col\" class=\"num\">Found in target</th>"
            "<th scope=\"col\" class=\"num\">Other objects</th><th scope=\"col\">Check</th></tr>")
    return (f'<h2 id="per-container">Per container</h2><div class="scroll"><table class="counts">'
            f"<thead>{head}</thead><tbody>{_container_rows(report)}</tbody></table></div>")


def _html_what(item: ItemResult) -> str:
    parts = []
    if item.differences:
        lis = "".join(
            f'<li><span class="f">{_e(d.field)}</span><dl><dt>expected</dt><dd>{_e(d.expected)}</dd>'
            f"<dt>found</dt><dd>{_e(d.actual)}</dd></dl></li>" for d in item.differences)
        parts.append(f'<ul class="diffs">{lis}</ul>')
    if item.detail:
        parts.append(f'<div class="detail">{_e(item.detail)}</div>')
    return "".join(parts)


def _html_item_row(item: ItemResult) -> str:
    source = f'<br><span class="key">from {_e(item.source)}</span>' if item.source else ""
    return (f'<tr class="row-{_e(item.status)}"><td>{_badge(item.status)}</td><td>{_e(item.kind)}</td>'
            f"<td>{_link(item.title or '(no title)', item.url)}<br>"
            f'<span class="key">{_e(item.key)}</span>{source}</td><td>{_html_what(item)}</td></tr>')


def _html_container(name: str, items: list[ItemResult]) -> str:
    counts = Counter(i.status for i in items)
    has_problems = any(i.status in PROBLEMS for i in items)
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    head = ('<tr><th scope="col">Status</th><th scope="col">Kind</th><th scope="col">Title and key</th>'
            '<th scope="col">What differs</th></tr>')
    rows = "".join(_html_item_row(i) for i in _sorted_for_display(items))
    return (f'<details{" open" if has_problems else ""}><summary>{_e(name)}'
            f'<span class="sc">{_e(summary)}</span></summary>'
            f'<div class="scroll"><table><thead>{head}</thead><tbody>{rows}</tbody></table></div></details>')


def _grouped(report: VerifyReport, target: str) -> dict[str, list[ItemResult]]:
    """The target's items by container: the report's container order first, then any others as they come."""
    groups: dict[str, list[ItemResult]] = {c.container: [] for c in report.containers if c.target == target}
    for item in report.items:
        if item.target == target:
            groups.setdefault(item.container, []).append(item)
    return {name: items for name, items in groups.items() if items}


def _html_target(report: VerifyReport, target: str, n: int) -> str:
    items = [i for i in report.items if i.target == target]
    kind = "Mailbox" if _is_mailbox(target) else "Site"
    body = "".join(_html_container(name, group) for name, group in _grouped(report, target).items())
    return (f'<section aria-labelledby="t{n}"><h2 id="t{n}">{kind}: {_e(target)}'
            f"<small>{_e(_counts_text(report.counts(items)))}</small></h2>{body or '<p>No items.</p>'}</section>")


def render_html(report: VerifyReport, *, title: str | None = None) -> str:
    """The whole report as one self-contained HTML5 page."""
    title = title or f"Verification report: {report.job}"
    sections = "".join(_html_target(report, t, n) for n, t in enumerate(report.targets()))
    filter_ = ('<input type="checkbox" id="only-problems" class="visually-hidden">'
               if report.items else "")
    filter_label = ('<p class="filter"><label for="only-problems">show problems only</label></p>'
                    if report.items else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{filter_}<main>"
        f"{_html_header(report, title)}{_html_tiles(report)}{_html_run_notes(report)}{filter_label}"
        f"{_html_containers(report)}{sections}</main><script>{_SCRIPT}</script></body></html>\n")


def write_html(report: VerifyReport, path: str | Path, *, title: str | None = None) -> Path:
    path = Path(path)
    path.write_text(render_html(report, title=title), encoding="utf-8")
    return path


# -- one report per mailbox owner ---------------------------------------------------------------

def safe_file_stem(target: str) -> str:
    """``target`` as a file name: letters, digits, ``@ . - _`` kept, anything else replaced by ``_``."""
    stem = _UNSAFE_NAME.sub("_", target).strip(".") or "_"
    return stem[:200]


def write_per_user(report: VerifyReport, directory: str | Path) -> list[Path]:
    """``<upn>.html`` and ``<upn>.csv`` per mailbox (sites are skipped); the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for target in report.targets():
        if not _is_mailbox(target):
            continue
        stem = safe_file_stem(target)
        base, n = stem, 1
        while stem.casefold() in used:   # two UPNs that differ only by case or by replaced characters
            n += 1
            stem = f"{base}-{n}"
        used.add(stem.casefold())
        own = report.for_target(target)
        written.append(write_html(own, directory / f"{stem}.html",
                                  title=f"Your migrated mailbox: {target}"))
        written.append(write_csv(own, directory / f"{stem}.csv"))
    return written
