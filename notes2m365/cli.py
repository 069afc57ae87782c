"""The ``notes2m365`` command line: the only module that imports click.

Exit codes (also in the README):

====  ==============================================================
0     success: every document read, every item migrated
1     some documents could not be read, or some items failed (reported);
      verify: an item is missing, differs, is extra or could not be checked
2     usage error: bad option, job or mapping file, no input file
3     fatal: Graph refused the run (credentials, access, quota), or the
      state store is in use or unreadable; the state stays resumable
130   interrupted (Ctrl-C); run the same command again to resume
====  ==============================================================

Logs and progress go to stderr; data (tables, JSON, HTML) to stdout.
"""

from __future__ import annotations

import atexit
import gc
import glob
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from html import escape

from . import __version__

if TYPE_CHECKING:
    from .convert import ConvertedDocument
    from .dxl import ReadStats
    from .model import DocumentError

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DXL_SUFFIXES = (".dxl", ".xml")
log = logging.getLogger("notes2m365")

# At exit, once the exit handlers registered after this one have run: the interpreter's teardown collects garbage
# several times over every object still alive (a migration's: the Graph SDK's modules, the plan), about 80 ms of
# CPU; frozen objects are not walked, and the memory goes back to the system with the process anyway.
atexit.register(gc.freeze)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # a log file may lower the logger's level; stderr keeps this one


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from datetime import UTC, datetime

        return json.dumps({"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                           "level": record.levelname.lower(), "logger": record.name,
                           "message": record.getMessage()}, ensure_ascii=False)


def _log_file(path: str, as_json: bool) -> logging.Handler:
    """INFO and above of notes2m365 to ``path`` (appended), plain or JSON lines."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(_JsonLines() if as_json else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("notes2m365")
    logger.addHandler(handler)
    logger.setLevel(min(logging.INFO, logging.getLogger().level))
    return handler


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="notes2m365")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """Migrate Lotus Notes / HCL Domino databases exported as DXL into Microsoft 365.

    Exit codes: 0 success; 1 some documents could not be read or converted;
    2 usage error; 130 interrupted.
    """
    _setup_logging(verbose, quiet)


def expand_inputs(paths: tuple[str, ...], skip_other: bool = False) -> list[str]:
    """Files named, globs expanded, directories searched for *.dxl and *.xml (sorted), job files
    (``*.toml``) replaced by their sources.

    With ``skip_other``, files that are neither .dxl nor .xml (a README beside
    the exports, caught by a shell glob) are skipped with a note on stderr.
    """
    out: list[str] = []
    for p in paths:
        if p.lower().endswith(".toml") and os.path.isfile(p):  # a job file: its sources
            from .errors import Notes2M365Error
            from .job import load_job
            try:
                out.extend(f for source in load_job(p).sources for f in source.files)
            except Notes2M365Error as exc:
                raise click.UsageError(str(exc))
            continue
        if os.path.isdir(p):
            found = sorted(str(f) for f in Path(p).rglob("*") if f.suffix.lower() in DXL_SUFFIXES and f.is_file())
            if not found:
                raise click.UsageError(f"{p}: no .dxl or .xml files in this directory")
            out.extend(found)
        elif os.path.exists(p):
            out.append(p)
        else:
            matches = sorted(glob.glob(p))
            if not matches:
                raise click.UsageError(f"{p}: no such file")
            out.extend(matches)
    if skip_other:
        kept = [f for f in out if f.lower().endswith(DXL_SUFFIXES)]
        for f in out:
            if f not in kept:
                log.warning("%s: skipped (not a .dxl or .xml file)", f)
        if not kept:
            raise click.UsageError("no .dxl or .xml file among the inputs")
        out = kept
    return out


class _Progress:
    """A byte-based progress bar on stderr (tqdm), shown on a terminal or when asked."""

    def __init__(self, files: list[str], enabled: bool | None) -> None:
        from tqdm import tqdm

        total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                        disable=(None if enabled is None else not enabled), leave=False, desc="reading")
        self.done = 0

    def update(self, stats: ReadStats, base: int) -> None:
        """Show ``base`` bytes of earlier files plus what has been read of the current one."""
        pos = base + min(stats.bytes_read, stats.bytes_total)
        if pos > self.done:
            self.bar.update(pos - self.done)
            self.done = pos

    def close(self) -> None:
        self.bar.close()


def _log_error(err: DocumentError) -> None:
    log.error("%s", err)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
@click.option("--spool-dir", type=click.Path(file_okay=False), help="Where large attachments are spooled (default: system temp).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Inspect this many files at once, in separate processes.")
def inspect(paths: tuple[str, ...], as_json: bool, progress: bool | None, spool_dir: str | None, jobs: int) -> None:
    """Inventory of DXL files: documents by form, items, attachments, rich text, security, errors.

    Runs the same conversion a migration runs (rich text rendered, attachments
    decoded and hashed), so a clean inspect means a clean conversion.
    PATHS are DXL files, directories or globs.
    """
    from .inventory import inspect_files
    from .report import render_inventory

    files = expand_inputs(paths, skip_other=True)
    bar = _Progress(files, progress)
    try:
        total, per_file = inspect_files(files, jobs=jobs, progress=bar.update, on_error=_log_error, spool_dir=spool_dir)
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    bar.close()
    if as_json:
        data = total.as_json()
        data["files"] = [inv.as_json() for inv in per_file]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(render_inventory(total, per_file))
    sys.exit(EXIT_ERRORS if total.errors else EXIT_OK)


_SAFE_NAME = re.compile(r"[^\w. -]+")  # letters (any script), digits, _ . space -


@main.command()
@click.argument("path")
@click.option("--unid", "unids", multiple=True, help="Only this document (repeatable; case-insensitive).")
@click.option("--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write one file per document here instead of stdout.")
@click.option("--spool-dir", type=click.Path(file_okay=False), help="Where large attachments are spooled.")
def convert(path: str, unids: tuple[str, ...], fmt: str, out_dir: str | None, spool_dir: str | None) -> None:
    """Show what documents will become: normalized JSON, or the rendered rich text as HTML.

    To stdout: JSON Lines (one document per line) or HTML (one <article> per
    document, each rich-text item in a <div data-item>, Body first).  With
    --out DIR: DIR/<UNID>.json or DIR/<UNID>.html, and the document's
    attachments and inline images under DIR/<UNID>.files/.
    """
    from .convert import iter_converted
    from .model import DocumentError

    files = expand_inputs((path,))
    wanted = {u.upper() for u in unids}
    found: set[str] = set()
    failures = 0
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    if fmt == "html" and not out_dir:
        click.echo("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>notes2m365 convert</title></head><body>")
    try:
        for _path, _stats, result, conv in iter_converted(files, spool_dir=spool_dir):
            unid = (result.unid or "").upper()
            if wanted and unid not in wanted:
                continue
            if conv is None:
                assert isinstance(result, DocumentError)
                _log_error(result)
                failures += 1
                continue
            found.add(unid)
            _emit(conv, fmt, out_dir)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if fmt == "html" and not out_dir:
        click.echo("</body></html>")
    missing = sorted(wanted - found)
    for unid in missing:
        log.error("%s: no document with UNID %s", path, unid)
    sys.exit(EXIT_ERRORS if failures or missing else EXIT_OK)


def _article(conv: ConvertedDocument) -> str:
    doc = conv.doc
    return (f'<article data-unid="{escape(doc.unid or "")}" data-form="{escape(doc.form or "")}">\n'
            f"{conv.html()}\n</article>")


def _emit(conv: ConvertedDocument, fmt: str, out_dir: str | None) -> None:
    doc = conv.doc
    if out_dir is None:
        if fmt == "json":
            click.echo(json.dumps(conv.as_json(), ensure_ascii=False, sort_keys=False))
        else:
            click.echo(_article(conv))
        return
    stem = _SAFE_NAME.sub("_", doc.unid or f"line{doc.line}")
    files_dir = Path(out_dir) / f"{stem}.files"
    written: dict[str, str] = {}
    for img in conv.inline_images:
        written[img.content_id] = _write_file(files_dir, img.filename, img.data)
    attachment_files = {att.name: _write_file(files_dir, att.name, att.read_bytes()) for att in conv.attachments}
    if fmt == "json":
        (Path(out_dir) / f"{stem}.json").write_text(json.dumps(conv.as_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    else:
        html = _article(conv)
        for cid, rel in written.items():  # let a browser show the inline images and attachments from disk
            html = html.replace(f'src="cid:{cid}"', f'src="{stem}.files/{rel}"')
        for name, rel in attachment_files.items():
            html = html.replace(f'href="attachment:{escape(name)}"', f'href="{stem}.files/{rel}"')
        page = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"/><title>{stem}</title></head><body>\n{html}\n</body></html>\n'
        (Path(out_dir) / f"{stem}.html").write_text(page, "utf-8")


def _write_file(folder: Path, name: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    safe = _SAFE_NAME.sub("_", os.path.basename(name.replace("\\", "/"))).strip(" .") or "file"
    (folder / safe).write_bytes(data)
    return safe



@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="Keep the tenant's state in DIR/graph.sqlite (default: in memory, gone at exit).")
@click.option("--tenant", "tenant_file", type=click.Path(dir_okay=False),
              help="Users and sites to serve (TOML or JSON); default: the demo tenant of the samples.")
@click.option("--token", help="Accept only this bearer token (default: any).")
@click.option("--request-log", type=click.Path(dir_okay=False), help="Append one JSON line per request here.")
@click.option("--latency-ms", type=click.IntRange(0), default=0, show_default=True,
              help="Added to every response.")
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of requests answered with a transient failure (503, 504, dropped connection, "
                   "or a write carried out whose answer is lost).")
@click.option("--seed", type=int, default=0, show_default=True, help="Makes injected faults reproducible.")
@click.option("--no-throttle", is_flag=True, help="Switch Graph's throttling model off.")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Any limit or switch, e.g. throttle.mailbox_window_s=60, switches.max_message_bytes=157286400, "
                   "faults.kinds=503,lost-504 (repeatable; see the README).")
def emulator(host: str, port: int, data_dir: str | None, tenant_file: str | None, token: str | None,
             request_log: str | None, latency_ms: int, fault_rate: float, seed: int, no_throttle: bool,
             settings: tuple[str, ...]) -> None:
    """Serve a local Microsoft Graph v1.0 emulator at http://HOST:PORT/v1.0 until Ctrl-C.

    It behaves like Graph where notes2m365 depends on it, rejections and
    throttling included, so that a migration can be rehearsed offline.
    Exit codes: 0 stopped; 2 bad option, tenant file or address in use.
    """
    from .emulator import Emulator, EmulatorConfig, serve
    from .emulator.config import apply_setting
    from .errors import Notes2M365Error

    config = EmulatorConfig(host=host, port=port, data_dir=data_dir, tenant_file=tenant_file, token=token,
                            request_log=request_log)
    config.faults.latency_ms, config.faults.fault_rate, config.faults.seed = latency_ms, fault_rate, seed
    config.throttle.enabled = not no_throttle
    try:
        for assignment in settings:
            apply_setting(config, assignment)
        emu = Emulator(config)
        users, sites = len(emu.store.all("user")), len(emu.store.all("site"))
        state = "in " + emu.store.path if data_dir else "in memory"
        extras = ("" if config.throttle.enabled else ", throttling off") + (
            f", faults {fault_rate:.0%} (seed {seed})" if fault_rate else "")

        def announce() -> None:
            click.echo(f"Graph emulator on http://{host}:{port}/v1.0 - {users} users, {sites} sites, "
                       f"state {state}{extras}. Ctrl-C stops it.", err=True)
        serve(emu, on_ready=announce)
        click.echo("emulator stopped", err=True)
    except Notes2M365Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@main.command()
@click.argument("job_file", metavar="JOB")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the plan (JSON Lines) here and the summary to stdout; default: plan to stdout, "
                   "summary to stderr.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option("--graph-url", help="Override the job's target.graph_url.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Override filters.since (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Override filters.until (YYYY-MM-DD).")
@click.option("--form", "forms", multiple=True, help="Override filters.forms: only these forms (repeatable).")
def plan(job_file: str, out_file: str | None, as_json: bool, graph_url: str | None, since: Any, until: Any,
         forms: tuple[str, ...]) -> None:
    """Dry run: what migrating JOB would do, one JSON line per target operation, and a summary.

    Deterministic: the same job, mappings and DXL give a byte-identical plan.
    Exit codes: 0 planned; 1 planned, but some documents could not be read;
    2 the job or a mapping file is invalid (nothing planned); 130 interrupted.
    """
    from .errors import Notes2M365Error
    from .job import load_job
    from .plan import build_plan, render_summary

    try:
        job = load_job(job_file, {"graph_url": graph_url, "since": since.date() if since else None,
                                  "until": until.date() if until else None, "forms": forms or None})
        result = build_plan(job)
    except Notes2M365Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    summary = json.dumps(result.summary(), indent=2, sort_keys=True) if as_json else render_summary(result, job)
    if out_file:
        tmp = out_file + ".part"
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as out:
                result.write(out)
            os.replace(tmp, out_file)
        except OSError as exc:
            click.echo(f"error: {out_file}: cannot write the plan: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(summary)
    else:
        result.write(sys.stdout)
        click.echo(summary, err=True)
    sys.exit(EXIT_ERRORS if result.issues.errors else EXIT_OK)


def _load_job_or_exit(job_file: str, overrides: dict[str, Any]) -> Any:
    from .errors import Notes2M365Error
    from .job import load_job

    try:
        return load_job(job_file, overrides)
    except Notes2M365Error as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _progress(show: bool | None) -> Any:
    from .progress import LogProgress, TqdmProgress

    return TqdmProgress() if (sys.stderr.isatty() if show is None else show) else LogProgress()


def _migrate_and_report(job: Any, retry_failed: bool, as_json: bool, progress: bool | None, log_file: str | None,
                        log_json: bool, verify: bool = False) -> Any:
    """Run the migration with progress, a log file and the summary; exits on failure, returns the result."""
    from .errors import Notes2M365Error
    from .migrate import render_summary, run_migration

    log_path = log_file or str(Path(job.state).with_suffix(".log"))
    handler = _log_file(log_path, log_json)
    bars = _progress(progress)
    try:
        result = run_migration(job, retry_failed=retry_failed, progress=bars)
        if verify and result.summary.outcome == "complete":
            from .verify import run_verify

            report = run_verify(job)
            result.verified = {"items": len(report.items), "match": report.counts()["match"],
                               "problems": [f"{i.key}: {i.status}" + (f" ({'; '.join(map(str, i.differences))})"
                                                                      if i.differences else "")
                                            for i in report.items if i.status != "match"]}
    except Notes2M365Error as exc:
        _stop(exc, bars)
    finally:
        logging.getLogger("notes2m365").removeHandler(handler)
        handler.close()
    bars.close()
    summary = result.summary
    if as_json:
        click.echo(json.dumps({**summary.as_json(), "state": result.state_path, "log": log_path,
                               **({"verified": result.verified} if result.verified is not None else {})},
                              indent=2, sort_keys=True))
    else:
        click.echo(render_summary(result))
        click.echo(f"log: {log_path}")
    result.log_path = log_path
    return result


def _stop(exc: Exception, bars: Any) -> NoReturn:
    """A run that cannot go on: its progress closed, one line on stderr, exit 2 for a bad job or mapping,
    3 otherwise (Graph refused the run; the state store is in use or unreadable)."""
    from .errors import ConfigError

    bars.close()
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FATAL)


def _exit_code(result: Any) -> int:
    s = result.summary
    if s.fatal:
        return EXIT_FATAL
    if s.interrupted:
        return EXIT_INTERRUPTED
    if s.counts.get("failed") or result.plan.issues.errors:
        return EXIT_ERRORS
    if result.verified is not None and result.verified["problems"]:
        return EXIT_ERRORS
    return EXIT_OK


@main.command()
@click.argument("job_file", metavar="JOB")
@click.option("--dry-run", is_flag=True, help="Read the tenant and the state and say what would be done; "
                                              "write nothing.")
@click.option("--retry-failed", is_flag=True, help="Try items that failed permanently before once more.")
@click.option("--graph-url", help="Override the job's target.graph_url.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars on stderr (default: on a terminal; otherwise log lines).")
@click.option("--log-file", type=click.Path(dir_okay=False),
              help="Append the run's log here (default: beside the state store, STATE.log).")
@click.option("--log-json", is_flag=True, help="Write the log file as JSON lines.")
def migrate(job_file: str, dry_run: bool, retry_failed: bool, graph_url: str | None, as_json: bool,
            progress: bool | None, log_file: str | None, log_json: bool) -> None:
    """Migrate JOB's mailboxes into Microsoft 365 through Graph, resumably and exactly once.

    Every item carries its Notes source key; a crash, a kill or Ctrl-C never loses
    or duplicates one: run the same command again to resume.  A second run of a
    finished job sends no writes.  Ctrl-C once: requests in flight finish and the
    state is saved; twice: stop now (still resumable).

    Exit codes: 0 every item migrated; 1 some items failed or documents could not
    be read (notes2m365 failures JOB); 2 bad job, mapping or option; 3 fatal
    (credentials, access, quota, state store in use); 130 interrupted.
    """
    job = _load_job_or_exit(job_file, {"graph_url": graph_url})
    if dry_run:
        from .errors import ConfigError, Notes2M365Error
        from .migrate import preflight, render_preflight

        try:
            reports, plan, writes = preflight(job, retry_failed)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except Notes2M365Error as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FATAL)
        if as_json:
            click.echo(json.dumps({"writes": writes, "documents": plan.documents_read, "targets": [
                {"target": r.target, "ok": r.ok, "checks": [{"check": w, "ok": ok, "detail": d}
                                                            for w, ok, d in r.checks],
                 "would": dict(sorted(r.would.items()))} for r in reports]}, indent=2, sort_keys=True))
        else:
            click.echo(render_preflight(reports, plan, writes))
        sys.exit(EXIT_OK if all(r.ok for r in reports) else EXIT_ERRORS)
    result = _migrate_and_report(job, retry_failed, as_json, progress, log_file, log_json)
    sys.exit(_exit_code(result))


def _read_state(job_file: str) -> Any:
    from .errors import StateError
    from .state import open_state

    job = _load_job_or_exit(job_file, {})
    try:
        return job, open_state(job.state, read_only=True)
    except StateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@main.command()
@click.argument("job_file", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
def status(job_file: str, as_json: bool) -> None:
    """What the state store of JOB says: items per status and per target, doclinks waiting for their
    target, and the runs so far.

    Safe while a migration runs (read-only).  Exit codes: 0 nothing failed or
    pending; 1 some items failed or are not finished; 2 no state store or bad job.
    """
    import sqlite3

    from .plan import target_of

    job, state = _read_state(job_file)
    with state:
        counts = state.counts()
        per_target: dict[str, dict[str, int]] = {}
        for item in state.items():
            target = target_of(item.container) if item.container else "(skipped)"
            per_target.setdefault(target, dict.fromkeys(counts, 0))[item.status] += 1
        runs = state.runs()
        try:
            pending = state.pending_links()
        except sqlite3.OperationalError:  # a store written before doclinks were recorded
            pending = []
    if as_json:
        click.echo(json.dumps({"state": job.state, "counts": counts, "per_target": per_target, "runs": runs,
                               "pending_doclinks": [{"from": a, "to": b} for a, b in pending]},
                              indent=2, sort_keys=True))
    else:
        click.echo(f"{job.name}: state {job.state}")
        click.echo("items: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for target, c in sorted(per_target.items()):
            click.echo(f"  {target}: " + ", ".join(f"{k} {v}" for k, v in c.items() if v))
        if pending:
            click.echo(f"doclinks waiting for their target (rewritten by the run that migrates it): {len(pending)}")
            for source, target in pending[:20]:
                click.echo(f"  {source} -> {target}")
        for run in runs[-5:]:
            click.echo(f"run {run['run_id']}: {run['outcome'] or 'running or crashed'}"
                       + (f", finished {run['finished']}" if run["finished"] else ""))
    sys.exit(EXIT_ERRORS if counts["failed"] or counts["started"] or counts["pending"] else EXIT_OK)


@main.command()
@click.argument("job_file", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def failures(job_file: str, as_json: bool) -> None:
    """The items of JOB that failed, and why (from the state store; read-only).

    A failure marked permanent is retried only with `migrate --retry-failed`;
    the others are retried by the next `migrate`.  Exit codes: 0 none failed;
    1 some failed; 2 no state store or bad job.
    """
    _job, state = _read_state(job_file)
    with state:
        failed = state.items("failed")
    for item in failed:
        if as_json:
            click.echo(json.dumps({"key": item.key, "op": item.op, "container": item.container,
                                   "attempts": item.attempts, "permanent": item.permanent,
                                   "error": item.last_error, "updated": item.updated}, sort_keys=True))
        else:
            kind = "permanent" if item.permanent else "will be retried"
            click.echo(f"{item.key}\t{item.op}\t{item.container}\t{item.attempts} attempt(s), {kind}\t"
                       f"{item.last_error}")
    if not as_json:
        click.echo(f"{len(failed)} failed item(s)", err=True)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


def _local_emulator(job: Any) -> Any:
    """The demo's emulator tenant served in this process, when the job targets a local emulator that is not
    running and ``notes2m365 demo`` left its tenant beside the job's state; else None."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(job.target.graph_url or "")
    tenant = Path(job.state).parent / "graph.sqlite"
    if url.hostname not in ("127.0.0.1", "localhost", "::1") or not tenant.is_file():
        return None
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=1):
            return None  # something listens there: use it
    except OSError:
        pass
    from .emulator import BackgroundEmulator, EmulatorConfig

    click.echo(f"no Graph emulator at {job.target.graph_url}: serving the tenant in {tenant} in this process",
               err=True)
    return BackgroundEmulator(EmulatorConfig(port=0, data_dir=str(tenant.parent)))


@main.command()
@click.argument("job_file", metavar="JOB")
@click.option("--graph-url", help="Override the job's target.graph_url.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where verify.html, verify.csv and verify.json go (default: a 'verify' folder beside the "
                   "job's state store).")
@click.option("--per-user", "per_user", type=click.Path(file_okay=False),
              help="Also write one HTML and CSV report per mailbox owner into this folder.")
@click.option("--sample", "percent", type=click.FloatRange(0, 100, min_open=True),
              help="Compare only this percentage of documents (chosen by --seed); default: all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which sample --sample takes.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
def verify(job_file: str, graph_url: str | None, out_dir: str | None, per_user: str | None, percent: float | None,
           seed: int, as_json: bool, progress: bool | None) -> None:
    """Read the migrated target back and compare it with the source of JOB.

    Every planned message, event, contact, task, list item and file is looked
    up by its source key and compared (folder or list, subject or title, body
    text, dates, people, mapped fields, attachments and files by sha256).
    Each is reported as match, missing, differs (naming the fields), extra
    (in the target but not planned, or a second copy) or error, with counts
    per folder, list and library.  Writes nothing to the target or the state.

    When the job targets a local emulator that is not running, the tenant
    `notes2m365 demo` keeps beside the state is served in this process.
    Exit codes: 0 every item matches; 1 something is missing, differs, is
    extra or could not be checked; 2 usage; 3 fatal (Graph refused the run).
    """
    from contextlib import nullcontext

    from tqdm import tqdm

    from .errors import Notes2M365Error
    from .verify import Progress, run_verify
    from .verifyreport import render_terminal, write_csv, write_html, write_json, write_per_user

    job = _load_job_or_exit(job_file, {"graph_url": graph_url} if graph_url else {})
    server = None if graph_url else _local_emulator(job)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=0, desc="verify", unit="item", file=sys.stderr, disable=not show, dynamic_ncols=True)

    def add_total(n: int) -> None:
        bar.total = (bar.total or 0) + n
        bar.refresh()
    try:
        with server if server is not None else nullcontext() as running:
            if running is not None:
                job = _load_job_or_exit(job_file, {"graph_url": running.base_url})
            report = run_verify(job, percent=percent, seed=seed, progress=Progress(add_total, bar.update))
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: nothing was written; run verify again", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Notes2M365Error as exc:
        _stop(exc, bar)
    bar.close()
    folder = Path(out_dir) if out_dir else Path(job.state).parent / "verify"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"html": folder / "verify.html", "csv": folder / "verify.csv", "json": folder / "verify.json"}
    write_html(report, paths["html"])
    write_csv(report, paths["csv"])
    write_json(report, paths["json"])
    personal = write_per_user(report, Path(per_user)) if per_user else []
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_terminal(report))
        click.echo("report: " + ", ".join(str(p) for p in paths.values()))
        if personal:
            click.echo(f"per-user reports: {len(personal)} file(s) in {per_user}")
    sys.exit(EXIT_OK if report.ok else EXIT_ERRORS)


@main.command()
@click.option("--job", "job_file", default=None, type=click.Path(dir_okay=False),
              help="The demo job (default: samples/demo.toml of this checkout).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Where the emulator keeps the tenant and the run its state store and log (default: the job's "
                   "state folder), so a second run finds what the first one wrote.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
def demo(job_file: str | None, data_dir: str | None, as_json: bool, progress: bool | None) -> None:
    """Migrate the bundled samples into a local Graph emulator and check the result.

    Starts the emulator in this process (its tenant kept on disk), migrates
    samples/demo.toml into it, checks that every planned mailbox item is there
    exactly once, and prints where the state, the log and the emulator's request
    log are.  Run it again: nothing is written the second time.  Exit codes as
    for `migrate`.
    """
    from .emulator import BackgroundEmulator, EmulatorConfig

    if job_file is None:
        job_file = str(Path(__file__).resolve().parent.parent / "samples" / "demo.toml")
        if not Path(job_file).is_file():
            raise click.UsageError("samples/demo.toml is not beside this installation; pass --job")
    job = _load_job_or_exit(job_file, {})
    data = data_dir or str(Path(job.state).parent)
    Path(data).mkdir(parents=True, exist_ok=True)
    request_log = str(Path(data) / "emulator-requests.jsonl")
    config = EmulatorConfig(port=0, data_dir=data, request_log=request_log)
    # the state store beside the tenant: a store from another tenant would call its items done there
    overrides = {"state": str(Path(data) / Path(job.state).name)} if data_dir else {}
    with BackgroundEmulator(config) as server:
        job = _load_job_or_exit(job_file, {"graph_url": server.base_url, **overrides})
        result = _migrate_and_report(job, False, as_json, progress, None, False, verify=True)
    verified = result.verified
    if not as_json:
        if verified is not None:
            click.echo(f"verified: {verified['match']} of {verified['items']} planned items are in the emulator "
                       "and match the source (notes2m365 verify JOB for the full report)"
                       + ("" if not verified["problems"] else "; problems: " + "; ".join(verified["problems"][:10])))
        click.echo(f"emulator tenant: {Path(data) / 'graph.sqlite'}; request log: {request_log}")
        writes = result.summary.graph.writes if result.summary.graph else 0
        click.echo(f"writes this run: {writes}" + (" (nothing left to do: run again after changing a sample)"
                                                    if writes == 0 else " (run again: the second run writes nothing)"))
    sys.exit(_exit_code(result))


if __name__ == "__main__":  # pragma: no cover
    main()
