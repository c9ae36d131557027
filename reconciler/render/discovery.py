"""``discover`` output: a text table, JSON (``schemas/discovery.schema.json``) and CSV.

Company names come from Partner Center and are free text: the text form makes control
characters visible (a name must not move the cursor or forge a line), CSV quotes per RFC 4180,
and JSON escapes as JSON does.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from reconciler.discovery import Class, Discovery, Found
from reconciler.manifest import display_path
from reconciler.render.safe import visible
from reconciler.render.text import name_cell
from reconciler.words import plural

FORMAT_VERSION = "1"
CSV_COLUMNS = ("customer_id", "name", "domain", "class", "reason", "upgrade_id", "managed",
               "source")
_NAME_WIDTH = 32


def summary_line(result: Discovery) -> str:
    """``Discovered: 1204 customers; 830 legacy (702 not in any manifest), 41 blocked, …``."""
    counts = {cls: result.count(cls) for cls in Class}
    parts = [f"{counts[Class.LEGACY]} legacy ({len(result.candidates)} not in any manifest)"]
    parts += [f"{counts[cls]} {cls.words}"
              for cls in (Class.BLOCKED, Class.IN_PROGRESS, Class.UPGRADED, Class.NONE)]
    line = f"Discovered: {plural(len(result.customers), 'customer')}; {', '.join(parts)}"
    if result.unread:
        line += f"; {len(result.unread)} could not be read"
    return line + "."


def _detail(found: Found) -> str:
    detail = found.reason or ""
    if found.upgrade_id and found.upgrade_id not in detail:
        detail = f"upgrade {found.upgrade_id}" + (f": {detail}" if detail else "")
    return visible(detail)


def render_text(result: Discovery) -> str:
    """The table (id, name, class, managed, reason or upgrade id), the unread, the summary.

    The reason comes last, as in plan's rows: it is the one cell of any length.
    """
    rows = [(c.customer_id, visible(c.name or ""), c.cls.value, c.source or "no", _detail(c))
            for c in result.customers]
    lines: list[str] = []
    if rows:
        header = ("CUSTOMER ID", "NAME", "CLASS", "MANAGED", "REASON / UPGRADE")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        widths[1] = min(widths[1], _NAME_WIDTH)
        lines += [_row(row, widths) for row in [header, *rows]]
        lines.append("")
    if result.unread:
        lines.append(f"Could not read {plural(len(result.unread), 'customer')} (nothing is "
                     "assumed about them; run discover again):")
        lines += [f"  {u.customer_id}  {visible(u.name or '')}: {visible(u.error)}"
                  for u in result.unread]
        lines.append("")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def _row(row: tuple[str, str, str, str, str], widths: list[int]) -> str:
    cells = [name_cell(row[i], widths[i]) for i in range(4)]  # cut with "…" to the width
    return ("  " + "  ".join(cells) + "  " + row[4]).rstrip()


def found_to_dict(found: Found) -> dict[str, Any]:
    """One customer in the documented field order."""
    return {
        "customer_id": found.customer_id,
        "name": found.name,
        "domain": found.domain,
        "class": found.cls.value,
        "reason": found.reason,
        "upgrade_id": found.upgrade_id,
        "legacy_subscriptions": list(found.legacy_subscriptions),
        "managed": found.managed,
        "source": found.source,
    }


def to_dict(result: Discovery) -> dict[str, Any]:
    """The JSON document."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "discovery",
        "customers": [found_to_dict(c) for c in result.customers],
        "unread": [{"customer_id": u.customer_id, "name": u.name, "error": u.error,
                    "correlation_id": u.correlation_id} for u in result.unread],
        "summary": result.summary(),
    }


def render_json(result: Discovery) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"


def render_csv(result: Discovery) -> str:
    """RFC 4180: every field that needs it quoted, quotes doubled, CRLF line ends."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for c in result.customers:
        row = found_to_dict(c)
        writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # A leading =, +, - or @ makes a spreadsheet evaluate the cell: a company name is data.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def written_lines(written: tuple[Path, ...], result: Discovery,
                  directory: Path | None) -> list[str]:
    """What ``--write`` reports: each file written, or that nothing was new."""
    if not written:
        where = f" in {display_path(directory)}" if directory is not None else ""
        return [f"Nothing written{where}: every legacy customer is already in a manifest."]
    count = len(result.candidates)
    lines = [f"Wrote {display_path(path)}" for path in written]
    lines.append(f"Wrote {plural(len(written), 'manifest')} with {plural(count, 'customer')}; "
                 "review them, then run `reconciler plan`.")
    return lines
