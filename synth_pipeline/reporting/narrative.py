"""The audit narrative: a human-readable chronology of one release, from the run's events
(materializations, gate results, as plain dicts from the orchestrator) and the ledger's
reserve/commit events for the run.

Reads no private values: event kinds, asset and check names, pass/fail, timestamps and the
ledger's (ε, δ) entries only. Check descriptions and log messages are not copied in.
"""

from __future__ import annotations

from datetime import datetime, timezone

from synth_pipeline.reporting.common import fmt

_KIND_TEXT = {
    "RUN_START": "run started",
    "RUN_SUCCESS": "run finished",
    "RUN_FAILURE": "run failed",
    "STEP_FAILURE": "step failed",
    "ASSET_MATERIALIZATION": "asset materialized",
}


def _iso(value) -> str | None:
    """UTC ISO time to the second; naive times (the ledger's) are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds")


def run_entries(events: list[dict]) -> list[dict]:
    """Run events as narrative entries; ``events`` items: {at, kind, asset?, check?, passed?, step?}."""
    entries = []
    for e in events:
        kind = e.get("kind", "")
        if kind == "ASSET_CHECK_EVALUATION":
            verdict = "passed" if e.get("passed") else "FAILED"
            what = f"gate {e.get('check')} on {e.get('asset')} {verdict}"
        elif kind == "ASSET_MATERIALIZATION":
            what = f"{e.get('asset')} materialized"
        elif kind in _KIND_TEXT:
            what = _KIND_TEXT[kind] + (f": {e['step']}" if e.get("step") else "")
        else:
            continue
        entries.append({"at": _iso(e.get("at")), "source": "dagster", "what": what})
    return entries


def ledger_entries(ledger_events: list[dict]) -> list[dict]:
    """Reserve and later transitions of this run's ledger events (ledger history rows)."""
    entries = []
    for e in ledger_events:
        entries.append({"at": _iso(e.get("created_at")), "source": "ledger",
                        "what": f"reserved ε={fmt(e.get('epsilon'))}, δ={fmt(e.get('delta'))} "
                                f"({e.get('mechanism')}, {e.get('accountant')} accountant) for {e.get('dataset')}"})
        if e.get("status") and e.get("status") != "reserved":
            entries.append({"at": _iso(e.get("status_at")), "source": "ledger",
                            "what": f"event {e['status']}" + (" (counted as spent)" if e["status"] == "committed"
                                                              else "")})
    return entries


def build_narrative(*, run_id: str | None, partition_key: str | None, dataset: str, generator: str,
                    events: list[dict] | None = None, ledger_events: list[dict] | None = None,
                    release_passed: bool | None = None, generated_at: str | None = None) -> dict:
    """Entries sorted by time; events without a time keep their order at the end."""
    generated_at = generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = run_entries(events or []) + ledger_entries(ledger_events or [])
    entries.append({"at": _iso(generated_at), "source": "report", "what": "reports written"})
    entries.sort(key=lambda e: (e["at"] is None, e["at"] or ""))
    outcome = ("released: every gate passed" if release_passed else
               "NOT released: a gate failed or the generator is not DP" if release_passed is False else "unknown")
    return {"document": "audit narrative", "run_id": run_id, "partition": partition_key, "dataset": dataset,
            "generator": generator, "outcome": outcome, "entries": entries}


def render_markdown(narrative: dict) -> str:
    lines = [f"# Audit narrative: {narrative['dataset']} / {narrative['partition']}", "",
             f"Run `{narrative['run_id']}` trained `{narrative['generator']}`. Outcome: {narrative['outcome']}.", "",
             "| time (UTC) | source | what happened |", "|---|---|---|"]
    lines += [f"| {e['at'] or '—'} | {e['source']} | {e['what']} |" for e in narrative["entries"]]
    return "\n".join(lines) + "\n"
