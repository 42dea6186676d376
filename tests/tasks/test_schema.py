"""--schema: reading schemas (JSON Schema, short form, @file), the grammar llama.cpp
samples under, and validation of answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmv_cli.engine.schema_grammar import schema_grammar
from glmv_cli.errors import AnswerError, ExitCode, InputError, UsageError
from glmv_cli.tasks.schema import load_schema, structured_answer


def test_short_form_expands_to_a_strict_object_schema() -> None:
    schema = load_schema('{"total": "number", "date": "string", "items": ["string"], '
                         '"vendor": {"name": "string"}}')
    assert schema == {
        "type": "object",
        "properties": {
            "total": {"type": "number"}, "date": {"type": "string"},
            "items": {"type": "array", "items": {"type": "string"}},
            "vendor": {"type": "object", "properties": {"name": {"type": "string"}},
                       "required": ["name"], "additionalProperties": False},
        },
        "required": ["total", "date", "items", "vendor"], "additionalProperties": False,
    }


def test_a_json_schema_is_taken_as_it_is_inline_or_from_a_file(tmp_path: Path) -> None:
    full = {"type": "object", "properties": {"type": {"type": "string"}}}
    assert load_schema(json.dumps(full)) == full
    path = tmp_path / "s.json"
    path.write_text(json.dumps(full))
    assert load_schema(f"@{path}") == full


@pytest.mark.parametrize("arg, error, text", [
    ("{not json", UsageError, "not JSON"),
    ('{"total": "money"}', UsageError, "unknown type 'money'"),
    ('{"type": "nonsense"}', UsageError, "not a valid JSON Schema"),
    ('["string"]', UsageError, "a schema is a JSON object"),
    ("@/nonexistent/schema.json", InputError, "no such file"),
])
def test_bad_schemas_are_clear_errors(arg: str, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        load_schema(arg)


def test_answers_are_validated() -> None:
    schema = load_schema('{"total": "number", "date": "string"}')
    assert structured_answer('{"total": 12.5, "date": "2024-01-02"}', schema) == {
        "total": 12.5, "date": "2024-01-02"}
    # Wrapped in prose or a fence, as a server without structured output may send it.
    assert structured_answer('Here:\n```json\n{"total": 1, "date": "x"}\n```', schema)[
        "total"] == 1
    with pytest.raises(AnswerError, match="at total: 'twelve' is not of type 'number'") as e:
        structured_answer('{"total": "twelve", "date": "x"}', schema)
    assert e.value.exit_code == ExitCode.ANSWER
    with pytest.raises(AnswerError, match="not JSON"):
        structured_answer("twelve euros", schema)


def test_the_grammar_ends_the_answer_and_keeps_strings_clear_of_control_tokens() -> None:
    gbnf = schema_grammar(load_schema('{"name": "string"}'))
    assert gbnf.startswith("root ::= answer-json </answer>\n")
    assert "answer-json ::= " in gbnf and gbnf.count("root ::=") == 1
    char = next(line for line in gbnf.splitlines() if line.startswith("char ::="))
    assert '"<" [^|/' in char  # `<|` and `</` cannot start inside a string
