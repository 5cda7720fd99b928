"""`synth-pipeline schema draft|check`: bring your own table.

``draft`` writes a starting schema a person edits; ``check`` explains, one plain line per
mismatch, why a drop does not meet its schema, with the raw-data gate's own function. Both
read private values, NOT DP, and print names and counts only, never a value.
"""

from __future__ import annotations

from pathlib import Path


def cmd_schema_draft(args) -> int:
    """Write the draft; exit 0, or 2 with one line on bad input. Reads private values, NOT DP:
    the draft carries names, guessed types and suggested roles only (``schema_draft``)."""
    from synth_pipeline.cli import UsageError, emit
    from synth_pipeline.data_io import read_drop_as_text
    from synth_pipeline.schema_draft import DraftError, draft_schema

    output = Path(args.output)
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists; give --force to overwrite it, or another --output")
    source = Path(args.input)
    frame = read_drop_as_text(source)
    try:
        text = draft_schema(frame, source_name=source.name, dataset=args.dataset, label=args.label)
    except DraftError as exc:
        raise UsageError(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    emit({"draft": str(output), "columns": len(frame.columns),
          "next": f"edit {output}, then: synth-pipeline schema check --schema {output} --input {source}"})
    return 0


def cmd_schema_check(args) -> int:
    """Exit 0 when the drop meets its schema, 1 with one line per mismatch, 2 on bad input.
    Reads private values, NOT DP: the raw-data gate's check (``expectations.validate_raw``
    on ``data_io.read_drop``), so the two never disagree; names and counts only."""
    from synth_pipeline.cli import emit
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.expectations import validate_raw
    from synth_pipeline.schema import load_schema

    schema = load_schema(args.schema)
    report = validate_raw(read_drop(args.input, schema), schema)
    problems = report.problems()
    if args.json:
        emit({"matches": report.success, "schema": args.schema, "input": Path(args.input).name,
              "columns_checked": len(schema.names), "problems": problems})
    elif report.success:
        print(f"{Path(args.input).name} matches {args.schema}: {len(schema.names)} columns checked")
    else:
        print(f"{Path(args.input).name} does not match {args.schema}: {len(problems)} problem(s)")
        print("\n".join(f"- {line}" for line in problems))
    return 0 if report.success else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("schema", help="draft a schema from a drop, or check a drop against its schema")
    sub = p.add_subparsers(dest="schema_command", required=True)
    draft = sub.add_parser("draft", help="write a starting schema to edit: names, guessed types, suggested roles "
                                         "(reads the drop, not DP; writes no bound, category or count)")
    draft.add_argument("--input", required=True, help="the drop (CSV or Parquet)")
    draft.add_argument("--output", required=True, help="the schema to write (YAML)")
    draft.add_argument("--label", help="the label column (drafted categorical, role label)")
    draft.add_argument("--dataset", help="the dataset name the ledger charges (default: from the file name)")
    draft.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    draft.set_defaults(func=cmd_schema_draft)
    check = sub.add_parser("check", help="check a drop against its schema as the raw-data gate does, one line "
                                         "per mismatch (exit 1 when it does not match)")
    check.add_argument("--schema", required=True, help="the public schema (YAML)")
    check.add_argument("--input", required=True, help="the drop (CSV or Parquet)")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.set_defaults(func=cmd_schema_check)
