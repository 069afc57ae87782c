"""Plain-text rendering of an :class:`~notes2m365.inventory.Inventory` for the terminal."""

from __future__ import annotations

from .inventory import Inventory


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    def fmt(row: list[str]) -> str:
        return "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def render_inventory(total: Inventory, files: list[Inventory]) -> str:
    """Per-file summary table, then totals: forms, items, attachments, rich text, security, problems."""
    out: list[str] = []
    rows = []
    for inv in files:
        info = inv.file_info
        rows.append([
            str(info.get("path", inv.name)), str(info.get("dxl_version") or "-"), str(inv.documents),
            str(sum(inv.design_notes.values())), str(inv.attachment_count), _size(inv.attachment_bytes),
            str(inv.warning_count), str(len(inv.errors)),
        ])
    out += _table(["file", "DXL", "documents", "design skipped", "attachments", "bytes", "warnings", "errors"], rows)
    out.append("")
    out.append(f"Total: {total.documents} documents in {len(files)} file(s), "
               f"{sum(total.design_notes.values())} design notes skipped, {total.responses} responses")
    if total.created_min:
        out.append(f"Created: {total.created_min} .. {total.created_max}")
    if total.modified_min:
        out.append(f"Modified: {total.modified_min} .. {total.modified_max}")
    largest = ""
    if total.largest_attachment:
        size, name, unid = total.largest_attachment
        largest = f", largest {name} ({_size(size)}, document {unid})"
    out.append(f"Attachments: {total.attachment_count} ({_size(total.attachment_bytes)}){largest}; "
               f"inline images {total.inline_images}; OLE storage files {total.ole_objects}")
    out.append("")
    out.append("Documents by form")
    out += _table(["form", "documents"], [[f, str(n)] for f, n in sorted(total.by_form.items())])
    for form, fs in sorted(total.forms.items()):
        out.append("")
        out.append(f"Items of form {form!r} ({fs.documents} documents)")
        item_rows = []
        for name, types in sorted(fs.items.items()):
            rate = fs.present[name] / fs.documents if fs.documents else 0
            item_rows.append([name, ", ".join(f"{t}" if n == sum(types.values()) else f"{t}:{n}" for t, n in sorted(types.items())),
                              f"{rate:.0%}"])
        out += _table(["item", "types", "fill"], item_rows)
    if total.features:
        out.append("")
        out.append("Rich text and content features")
        out += _table(["feature", "count"], [[f, str(n)] for f, n in sorted(total.features.items())])
    out.append("")
    out.append(f"Security: {total.readers_documents} documents with readers fields, "
               f"{total.authors_documents} with authors fields, {total.signed_documents} signed, "
               f"{total.encrypted_documents} encrypted")
    if total.sealed_items:
        out.append("  items flagged for encryption (seal): " + ", ".join(f"{k} ({v})" for k, v in sorted(total.sealed_items.items())))
    if total.readers_names:
        out.append("  reader names: " + ", ".join(f"{k} ({v})" for k, v in total.readers_names.most_common(10)))
    out.append("")
    out.append(f"Warnings: {total.warning_count}")
    for w in total.warnings[:20]:
        where = f"{w['file']}:{w['line']}" if w.get("line") else w["file"]
        unid = f" {w['unid']}" if w.get("unid") else ""
        out.append(f"  {where}{unid}: {w['message']}")
    if total.warning_count > 20:
        out.append(f"  ... {total.warning_count - 20} more (use --json for the first {len(total.warnings)})")
    out.append(f"Errors: {len(total.errors)}")
    for e in total.errors:
        out.append(f"  {e}")
    return "\n".join(out)
