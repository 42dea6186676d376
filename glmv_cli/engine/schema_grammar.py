"""A JSON Schema as a llama.cpp grammar (GBNF) for the answer, made by llama-cpp-python's
own converter (a port of llama.cpp's json-schema-to-grammar).

The grammar covers the text after `<answer>`: the JSON value, then the closing
`</answer>` token, as the action grammars do. JSON strings may not contain `<|` or `</`
(how the answer's own control tokens begin: a character rule could otherwise spell
`</answer>` and close the answer mid-string) nor raw control characters, which JSON
forbids anyway.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

from glmv_cli.errors import UsageError

_CHAR = (r'char ::= [^"\\<\x00-\x1f\x7f] | "<" [^|/"\\\x00-\x1f\x7f] | '
         r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])')


def schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF (root rule `root`) for an answer that is one JSON value valid for `schema`."""
    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:  # the converter raises plain ValueErrors, KeyErrors, ...
        raise UsageError(f"--schema: llama.cpp cannot make a grammar from it: {e}") from None
    gbnf = re.sub(r"^char ::= .*$", lambda _: _CHAR, gbnf, flags=re.MULTILINE)
    gbnf = re.sub(r"^root ::= ", "answer-json ::= ", gbnf, count=1, flags=re.MULTILINE)
    return "root ::= answer-json </answer>\n" + gbnf
