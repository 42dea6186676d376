"""Structured answers (`--schema`): the schema a user gives, and the answer checked
against it.

A schema is a JSON Schema, inline or `@file.json`, or a short form that names fields and
their types: `{"total": "number", "date": "string"}`, with lists for arrays
(`{"items": ["string"]}`) and nested objects. Every field of the short form is required.
The engine makes the answer follow it (a grammar locally, structured output remotely);
the answer is validated here all the same, with jsonschema, before anyone relies on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from glmv_cli.errors import AnswerError, InputError, UsageError

# Tokens kept for a structured answer after the thinking (see Request.answer_reserve).
SCHEMA_ANSWER_RESERVE = 512

TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")
# Keys that only a JSON Schema has at its top level; a short form whose every key is one
# of these would be read as a schema (name such a field in a real JSON Schema instead).
KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$defs", "definitions", "type", "properties", "required",
    "additionalProperties", "items", "prefixItems", "enum", "const", "anyOf", "oneOf",
    "allOf", "not", "title", "description", "minimum", "maximum", "minLength",
    "maxLength", "pattern", "format", "minItems", "maxItems", "default", "examples",
})


def load_schema(arg: str) -> dict[str, Any]:
    """The JSON Schema that `--schema ARG` means (inline JSON, or @file.json)."""
    if arg.startswith("@"):
        path = Path(arg[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"--schema {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--schema {path}: cannot read ({e})") from None
        where = str(path)
    else:
        text, where = arg, "--schema"
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UsageError(f"{where}: not JSON ({e})") from None
    schema = expand_short_form(value) if is_short_form(value) else value
    if not isinstance(schema, dict):
        raise UsageError(f"{where}: a schema is a JSON object, e.g. "
                         '\'{"total": "number", "date": "string"}\'')
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise UsageError(f"{where}: not a valid JSON Schema: {e.message}") from None
    return schema


def is_short_form(value: Any) -> bool:
    """True for `{"field": "type", ...}`; False for a JSON Schema."""
    return isinstance(value, dict) and bool(value) and not set(value) <= KEYWORDS


def expand_short_form(value: Any, where: str = "") -> dict[str, Any]:
    """The JSON Schema a short form stands for (every field required, no others)."""
    if isinstance(value, str):
        name = value.strip().lower()
        if name not in TYPES:
            raise UsageError(f"--schema: unknown type '{value}' at {where or 'the top'} "
                             f"(known: {', '.join(TYPES)})")
        return {"type": name}
    if isinstance(value, list):
        if len(value) != 1:
            raise UsageError(f"--schema: a list in the short form holds one item type, "
                             f"e.g. [\"string\"] (at {where or 'the top'})")
        return {"type": "array", "items": expand_short_form(value[0], where + "[]")}
    if isinstance(value, dict):
        return {"type": "object",
                "properties": {k: expand_short_form(v, f"{where}.{k}".lstrip("."))
                               for k, v in value.items()},
                "required": list(value), "additionalProperties": False}
    raise UsageError(f"--schema: {json.dumps(value)} is not a type (at {where or 'the top'})")


def structured_answer(text: str, schema: dict[str, Any]) -> Any:
    """The answer's JSON value, valid for `schema`; AnswerError (exit 8) otherwise."""
    value = _first_json(text)
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(value),
                    key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        at = "/".join(str(p) for p in e.absolute_path) or "the top"
        raise AnswerError(f"the answer does not follow --schema: at {at}: {e.message}")
    return value


def _first_json(text: str) -> Any:
    """The JSON value an answer holds: the whole answer, else the first object or array
    in it (a server without structured output may wrap it in prose or a code fence)."""
    body = text.strip()
    try:
        return json.loads(body)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(body):
        if ch in "{[":
            try:
                return decoder.raw_decode(body, i)[0]
            except ValueError:
                continue
    shown = body if len(body) <= 60 else body[:60] + "…"
    raise AnswerError(f"the answer is not JSON, as --schema needs: {shown!r}")
