"""Unit tests of synth_pipeline.raw_data_messages: every raw-data finding in plain words.

Each message names the column, says what was expected and how many rows, and what to
change; it is built from the public schema and a count only.
"""

from __future__ import annotations

import pytest

from synth_pipeline.raw_data_messages import MESSAGES, explain, missing_column, rows, unknown_column
from synth_pipeline.schema import parse_schema

SCHEMA = parse_schema({"dataset": "toy", "columns": [
    {"name": "years of school", "type": "integer", "bounds": [0, 25]},
    {"name": "colour", "type": "categorical", "categories": ["a", "b", "c"]},
    {"name": "flag", "type": "boolean"},
    {"name": "weight", "type": "float"},
]})
SPEC_FOR = {"expect_column_values_to_be_in_set": "colour", "expect_column_values_to_be_finite": "weight"}
CHANGE_WORDS = ("fix", "declare", "add", "remove", "round", "fill", "use", "widen", "correct")


@pytest.mark.parametrize("expectation", sorted(MESSAGES))
def test_every_message_says_column_expectation_rows_and_what_to_change(expectation):
    column = SPEC_FOR.get(expectation, "years of school")
    message = explain(expectation, column, 7, SCHEMA.column(column))
    assert message.startswith(f"column {column!r}: ")
    assert "7 rows" in message
    assert "expected" in message or "needs" in message or "every row" in message
    assert any(word in message.lower() for word in CHANGE_WORDS), message
    assert "\n" not in message


def test_messages_quote_declared_facts_only():
    between = explain("expect_column_values_to_be_between", "years of school", 2, SCHEMA.column("years of school"))
    assert "[0, 25]" in between and "never from the data" in between
    in_set = explain("expect_column_values_to_be_in_set", "colour", 1, SCHEMA.column("colour"))
    assert "3 declared categories" in in_set and "1 row holds another value" in in_set
    boolean = explain("expect_column_values_to_be_in_set", "flag", 1, SCHEMA.column("flag"))
    assert "yes/no" in boolean and "1/0" in boolean


def test_a_name_with_a_line_break_stays_on_one_line():
    assert "\n" not in missing_column("two\nlines") and "\n" not in unknown_column("two\nlines")


@pytest.mark.parametrize("count, verb, expected", [(1, "hold", "1 row holds"), (2, "hold", "2 rows hold"),
                                                   (1, "are", "1 row is"), (0, "fall", "0 rows fall"),
                                                   (None, "", "some rows")])
def test_rows_agree_with_their_verb(count, verb, expected):
    assert rows(count, verb) == expected


def test_a_numeric_column_outside_its_codes_is_told_to_edit_values():
    message = explain("expect_column_values_to_be_in_set", "years of school", 2, SCHEMA.column("years of school"))
    assert "2 rows hold another value" in message and "`values`" in message and "`categories`" not in message
