"""The benchmark's table, as aligned text or Markdown, and the one-line machine summary under it."""

from __future__ import annotations


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if magnitude >= 0.01 else f"{value:.2g}"


def table_rows(result: dict) -> list[list[str]]:
    """Rows of text: figure, case, median, min, max, unit, target, met, detail."""
    out = []
    for name, entry in result["figures"].items():
        if entry.get("error"):
            out.append([name, "FAILED", "-", "-", "-", "", "", "error", entry["error"]])
            continue
        if not entry["rows"]:
            out.append([name, "(not run)", "-", "-", "-", "", "", "skipped", entry.get("reason", "")])
            continue
        for r in entry["rows"]:
            met = "skipped" if r["skipped"] else ("" if r["met"] is None else ("yes" if r["met"] else "NO"))
            if not r["skipped"] and r["median"] is None and r["met"] is False:
                met = "NO"
            detail = r["reason"] if r["skipped"] else "; ".join(x for x in (r["detail"], r["reason"]) if x)
            out.append([name, r["case"], _fmt(r["median"]), _fmt(r["min"]), _fmt(r["max"]), r["unit"],
                        r["target"], met, detail])
    return out


HEADER = ["figure", "case", "median", "min", "max", "unit", "target", "met", "detail"]


def format_table(result: dict, markdown: bool = False) -> str:
    """The table as aligned text, or as a Markdown table (``markdown=True``) for the README."""
    rows = table_rows(result)
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(len(HEADER) - 1)]
    right = {2, 3, 4}
    lines = []
    for row in [HEADER] + rows:
        cells = [row[i].rjust(widths[i]) if i in right else row[i].ljust(widths[i]) for i in range(len(HEADER) - 1)]
        lines.append("  ".join(cells) + ("  " + row[-1] if row[-1] else ""))
    lines.insert(1, "-" * min(200, len(lines[0])))
    return "\n".join(lines)


def summary_line(result: dict) -> str:
    m = result["machine"]
    blas = ", ".join(f"{t['internal_api']} {t.get('version') or ''} x{t['num_threads']}".strip() for t in m["threadpools"])
    gpu = m["gpu"]["name"] if m["gpu"] else "no GPU"
    return (f"{m['cpu_model']}, {m['cores_available']} cores, {m['memory_gb']} GB; numpy {m['numpy']} ({blas}); "
            f"torch {m['torch']} ({m['torch_blas']}, {m['torch_threads']} threads); {gpu}; load average "
            f"{m['load_average']} → {result.get('load_average_end')}; {result['seconds']:.0f} s in all")


__all__ = ["table_rows", "format_table", "summary_line", "HEADER"]
