"""PII scan: find direct identifiers that the schema did not declare.

Reads private values, not DP: a seeded sample of each text column is matched against
identifier patterns. The result only decides the PII gate (and drops nothing silently);
it reports column names, pattern names and shares, never a value (docs/privacy.md, invariant 5).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pandas as pd

from synth_pipeline.schema import TableSchema

PATTERNS = {
    "email": re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$"),
    "us_ssn": re.compile(r"^\d{3}-\d{2}-\d{4}$"),
    "phone": re.compile(r"^\+?[\d\s().-]{7,20}$"),
    "credit_card": re.compile(r"^(?:\d[ -]?){13,19}$"),
    "ip_address": re.compile(r"^\d{1,3}(\.\d{1,3}){3}$"),
    "street_address": re.compile(r"^\d{1,6}\s+\w+(\s+\w+)*\s+(St|Street|Ave|Avenue|Rd|Road|Blvd|Lane|Ln|Dr|Drive|Way|Court|Ct|Apt\.?|Suite)\b", re.I),
}
DIRECT_NAME_HINTS = re.compile(r"(^|_)(name|first_?name|last_?name|email|e_?mail|ssn|phone|mobile|address|street|"
                               r"passport|licen[cs]e|iban|account|card|ip|mrn|patient_?id|customer_?id|user_?id|id)($|_)", re.I)
QUASI_NAME_HINTS = re.compile(r"(^|_)(age|zip|postcode|postal|birth|dob|date|sex|gender|race|ethnic|country|city|"
                              r"marital|occupation)($|_)", re.I)
MATCH_SHARE = 0.5  # a column where half the sampled values match a pattern is that identifier
UNIQUE_SHARE = 0.9  # a text column this unique is an identifier or free text


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    share: float
    detail: str


def scan(frame: pd.DataFrame, schema: TableSchema, *, sample_rows: int = 2000, seed: int = 0) -> dict:
    """Scan the columns that would be trained on; declared direct identifiers are dropped anyway."""
    sample = frame.sample(n=min(len(frame), sample_rows), random_state=seed) if len(frame) else frame
    training = [c for c in schema.modelled_columns if c.name in frame.columns]
    findings: list[Finding] = []
    for col in training:
        if DIRECT_NAME_HINTS.search(col.name):
            findings.append(Finding(col.name, "identifier_name", 1.0, "the column name suggests a direct identifier"))
        if col.is_numeric:
            continue
        values = sample[col.name].dropna().astype("string").str.strip()
        if values.empty:
            continue
        for kind, pattern in PATTERNS.items():
            share = float(values.str.match(pattern).mean())
            if share >= MATCH_SHARE:
                findings.append(Finding(col.name, kind, share, f"{share:.0%} of {len(values)} sampled values match"))
        unique_share = values.nunique() / len(values)
        if col.value_set is None and len(values) >= 20 and unique_share >= UNIQUE_SHARE:
            findings.append(Finding(col.name, "high_uniqueness", float(unique_share),
                                    f"{unique_share:.0%} of {len(values)} sampled values are distinct"))
    quasi = sorted(set(schema.with_role("quasi_identifier")) |
                   {c.name for c in training if QUASI_NAME_HINTS.search(c.name)})
    flagged = sorted({f.column for f in findings})
    return {
        "declared_direct_identifiers": schema.direct_identifiers,
        "dropped_before_training": [n for n in schema.direct_identifiers if n in frame.columns],
        "training_columns": [c.name for c in training],
        "quasi_identifiers": quasi,
        "findings": [asdict(f) for f in findings],
        "identifiers_in_training_columns": flagged,
        "scanned_rows": int(len(sample)),
        "dp": False,
    }


def pii_problems(result: dict) -> list[str]:
    return [
        f"column {f['column']!r} looks like a direct identifier ({f['kind']}: {f['detail']}); declare it "
        "`role: direct_identifier` in the schema or remove it from the drop"
        for f in result["findings"]
    ]
