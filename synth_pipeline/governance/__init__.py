"""Release governance: approvals before release, the terms a release carries, retention and
the records of each decision (kept beside the privacy ledger, never deleted)."""
