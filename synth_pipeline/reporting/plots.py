"""Plots of the reports as PNG bytes (matplotlib's Agg canvas, no pyplot state, no display).

Two kinds of input:
- ``marginal_tables`` and ``association_matrix`` READ PRIVATE VALUES (the real holdout) and
  are NOT DP: per-column shares over public bins/categories and pairwise associations, for
  internal review only (docs/privacy.md, invariant 4). Their plots say so in the title. Every axis label
  comes from the public schema (declared bounds and categories, or DP statistics): values
  outside the declared categories are pooled as "other", and no real value is ever text.
- every other plot draws aggregates already in the reports (TSTR, attacks, ledger, sweep).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from synth_pipeline.reporting.common import INTERNAL_LABEL, attack_intervals, is_privacy_gate, tstr_pairs
from synth_pipeline.schema import ColumnSpec, TableSchema

NUMERIC_BINS = 20
OTHER, MISSING = "other (not in schema)", "missing"
REAL_COLOR, SYNTH_COLOR = "#4C72B0", "#DD8452"


# -- aggregation (private reads for the real side: not DP) ----------------------------------
def _plottable(schema: TableSchema) -> list[ColumnSpec]:
    return [c for c in schema.modelled_columns if (c.is_numeric and c.bounds is not None) or c.value_set]


def _short(x: float) -> str:
    """A bin edge as a short label (edges derive from public bounds only)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _codes(frame: pd.DataFrame, col: ColumnSpec) -> tuple[np.ndarray, list[str]]:
    """Each row's bin (numeric: NUMERIC_BINS equal bins over the public bounds) or category
    index (public categories, then OTHER), and MISSING last; with the public labels."""
    if col.is_numeric:
        lo, hi = col.bounds
        edges = np.linspace(lo, hi, NUMERIC_BINS + 1)
        labels = [f"{_short(float(a))}–{_short(float(b))}" for a, b in zip(edges[:-1], edges[1:])]
        values = pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        codes = np.clip(np.searchsorted(edges, np.clip(values, lo, hi), side="right") - 1, 0, NUMERIC_BINS - 1)
        codes = np.where(np.isfinite(values), codes, NUMERIC_BINS)
        return codes, labels + [MISSING]
    categories = list(col.value_set)
    index = {c: i for i, c in enumerate(categories)}
    text = frame[col.name].astype("string")
    if col.type == "boolean":
        text = text.str.lower()
    codes = np.array([len(categories) + 1 if pd.isna(v) else index.get(v, len(categories)) for v in text])
    return codes, categories + [OTHER, MISSING]


def marginal_tables(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> list[dict]:
    """READS PRIVATE VALUES, NOT DP: shares of the real and synthetic rows per public bin or
    category, per column. Empty OTHER/MISSING cells are dropped."""
    tables = []
    for col in _plottable(schema):
        if col.name not in real.columns or col.name not in synthetic.columns:
            continue
        real_codes, labels = _codes(real, col)
        synth_codes, _ = _codes(synthetic, col)
        r = np.bincount(real_codes, minlength=len(labels)) / max(len(real_codes), 1)
        s = np.bincount(synth_codes, minlength=len(labels)) / max(len(synth_codes), 1)
        keep = [i for i, lab in enumerate(labels) if lab not in (OTHER, MISSING) or r[i] or s[i]]
        tables.append({"column": col.name, "numeric": col.is_numeric, "labels": [labels[i] for i in keep],
                       "real": [float(r[i]) for i in keep], "synthetic": [float(s[i]) for i in keep]})
    return tables


def association_matrix(frame: pd.DataFrame, schema: TableSchema) -> tuple[list[str], np.ndarray]:
    """READS PRIVATE VALUES when given real rows, NOT DP: Pearson correlation for two numeric
    columns (clipped to their bounds), Cramér's V over public bins/categories otherwise."""
    columns = [c for c in _plottable(schema) if c.name in frame.columns]
    codes = {c.name: _codes(frame, c)[0] for c in columns}
    numeric = {c.name: pd.to_numeric(frame[c.name], errors="coerce").clip(*c.bounds)
               for c in columns if c.is_numeric}
    k = len(columns)
    matrix = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            a, b = columns[i].name, columns[j].name
            if a in numeric and b in numeric:
                value = numeric[a].corr(numeric[b])
            else:
                value = _cramers_v(codes[a], codes[b])
            matrix[i, j] = matrix[j, i] = 0.0 if value is None or not np.isfinite(value) else value
    return [c.name for c in columns], matrix


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    n = len(x)
    if n == 0:
        return 0.0
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    table = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(table, (xi, yi), 1)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum(np.where(expected > 0, (table - expected) ** 2 / expected, 0.0))
    r = min(table.shape) - 1
    return float(math.sqrt(chi2 / (n * r))) if r > 0 else 0.0


# -- rendering ----------------------------------------------------------------------------------
def _figure(width: float, height: float):
    # matplotlib only when a plot is drawn: imported up front it held ~25 MB through training and the audit
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # no text chunks beyond the image
    return buffer.getvalue()


def _empty(title: str, message: str) -> bytes:
    fig = _figure(6, 1.6)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.4, message, ha="center", va="center")
    return _png(fig)


def marginal_png(table: dict) -> bytes:
    """Real against synthetic shares for one column; x labels are public bins or categories."""
    n = len(table["labels"])
    fig = _figure(max(5.0, min(12.0, 0.28 * n + 2)), 3.2)
    ax = fig.add_subplot()
    x = np.arange(n)
    ax.bar(x - 0.2, table["real"], width=0.4, label="real holdout (not DP)", color=REAL_COLOR)
    ax.bar(x + 0.2, table["synthetic"], width=0.4, label="synthetic", color=SYNTH_COLOR)
    ax.set_xticks(x, table["labels"], rotation=60 if n > 6 else 0, ha="right" if n > 6 else "center",
                  fontsize=7 if n > 12 else 8)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{table['column']}: real vs synthetic — internal review only, real side not DP", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def correlation_png(names: list[str], real: np.ndarray, synthetic: np.ndarray) -> bytes:
    """Association heat maps side by side (real: internal, not DP)."""
    if not names:
        return _empty("Correlations", "no plottable columns")
    size = max(4.0, 0.32 * len(names) + 2)
    fig = _figure(2 * size + 1, size + 0.6)
    fig.set_layout_engine("constrained")
    for i, (matrix, title) in enumerate(((real, "real holdout (internal, not DP)"), (synthetic, "synthetic"))):
        ax = fig.add_subplot(1, 2, i + 1)
        image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=fig.axes, shrink=0.7, label="Pearson r (numeric pairs) / Cramér's V (others)")
    fig.suptitle(INTERNAL_LABEL, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def tstr_png(tstr: dict | None) -> bytes:
    pairs = tstr_pairs(tstr)
    if not pairs:
        return _empty("ML utility (TSTR vs TRTR)", "no TSTR result in the audit")
    fig = _figure(max(5.0, 1.1 * len(pairs) + 2), 3.4)
    ax = fig.add_subplot()
    x = np.arange(len(pairs))
    ax.bar(x - 0.2, [p["trtr"] for p in pairs], width=0.4, label="train real, test real (TRTR)", color=REAL_COLOR)
    ax.bar(x + 0.2, [p["tstr"] for p in pairs], width=0.4, label="train synthetic, test real (TSTR)",
           color=SYNTH_COLOR)
    ax.set_xticks(x, [f"{p['model']}\n{p['metric']}" for p in pairs], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("ML utility on the real holdout — internal review, not DP", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def attacks_png(audit: dict) -> bytes:
    """Attack estimates with their intervals, and privacy gates against their thresholds."""
    intervals = attack_intervals(audit)
    gates = [g for g in (audit or {}).get("gates", []) if is_privacy_gate(g) and g.get("value") is not None]
    if not intervals and not gates:
        return _empty("Privacy attacks", "no attack result in the audit")
    panels = [p for p in (intervals, gates) if p]
    fig = _figure(11 if len(panels) == 2 else 6, max(2.5, 0.45 * max(len(p) for p in panels) + 1.2))
    index = 1
    if intervals:
        ax = fig.add_subplot(1, len(panels), index)
        index += 1
        y = np.arange(len(intervals))
        values = np.array([i["value"] for i in intervals])
        errors = np.array([[i["value"] - i["low"] for i in intervals], [i["high"] - i["value"] for i in intervals]])
        ax.errorbar(values, y, xerr=np.clip(errors, 0, None), fmt="o", color=SYNTH_COLOR, capsize=3)
        ax.set_yticks(y, [i["name"] for i in intervals], fontsize=7)
        ax.set_title("attack estimates with intervals", fontsize=9)
    if gates:
        ax = fig.add_subplot(1, len(panels), index)
        y = np.arange(len(gates))
        ax.barh(y, [g["value"] for g in gates], height=0.5, color=[REAL_COLOR if g.get("passed") else "#C44E52" for g in gates])
        ax.scatter([g["threshold"] for g in gates], y, marker="|", s=300, color="black", label="threshold")
        ax.set_yticks(y, [f"{g['gate']} ({g['metric']})" for g in gates], fontsize=7)
        ax.set_title("privacy gates: value and threshold", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(INTERNAL_LABEL, fontsize=8)
    return _png(fig)


def ledger_png(history: list[dict], ledger_after: dict) -> bytes:
    """The dataset's ε over its releases: per release, the running basic sum (an upper bound),
    the current tight (RDP) total and the budget."""
    spent = [e for e in history if e.get("status") in ("committed", "reserved")]
    if not spent:
        return _empty("Privacy budget", "no DP release of this dataset yet")
    fig = _figure(max(5.0, 0.5 * len(spent) + 3), 3.2)
    ax = fig.add_subplot()
    x = np.arange(1, len(spent) + 1)
    per = [float(e["epsilon"]) for e in spent]
    ax.bar(x, per, color=SYNTH_COLOR, label="ε of the release")
    ax.plot(x, np.cumsum(per), marker="o", color=REAL_COLOR, label="running sum (basic composition)")
    if ledger_after.get("spent_epsilon") is not None:
        ax.scatter([x[-1]], [ledger_after["spent_epsilon"]], marker="*", s=140, color="black", zorder=3,
                   label=f"total now ({ledger_after.get('composition', '')} composition)")
    if ledger_after.get("budget_epsilon"):
        ax.axhline(ledger_after["budget_epsilon"], color="#C44E52", linestyle="--", label="budget")
    ax.set_xticks(x, [str(i) for i in x])
    ax.set_xlabel("release (ledger order)")
    ax.set_ylabel("ε")
    ax.set_title(f"ε spent on dataset {ledger_after.get('dataset', '')} over releases", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def privacy_utility_png(rows: list[dict], *, utility_key: str = "utility",
                        ylabel: str = "utility: TSTR AUC / TRTR AUC") -> bytes:
    """Privacy-utility trade-off of a sweep: x ε (log), y utility; non-DP runs at the right edge."""
    points = [r for r in rows if r.get(utility_key) is not None]
    if not points:
        return _empty("Privacy-utility trade-off", "no run produced a utility score")
    dp_eps = [r["epsilon"] for r in points if r.get("epsilon")]
    edge = (max(dp_eps) * 3) if dp_eps else 10.0
    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    for generator in sorted({r["generator"] for r in points}):
        mine = sorted((r for r in points if r["generator"] == generator), key=lambda r: r.get("epsilon") or edge)
        xs = [r["epsilon"] if r.get("epsilon") else edge for r in mine]
        ax.plot(xs, [r[utility_key] for r in mine], marker="o", label=generator)
        for r, xv in zip(mine, xs):
            if not r.get("epsilon"):
                ax.annotate("not DP", (xv, r[utility_key]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("ε (log scale; non-DP runs at the right edge)")
    ax.set_ylabel(ylabel)
    ax.set_title("Privacy-utility trade-off (utility: internal review, not DP)", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)
