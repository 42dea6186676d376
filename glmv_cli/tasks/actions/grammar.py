"""GBNF grammars (llama.cpp) for the agent's answer, one per platform.

The engine samples the text after `<answer>` under these, so even a weak or quantized
model writes an answer in the reference layout with exactly one well-formed action. The
action may be wrapped in `<|begin_of_box|>…<|end_of_box|>` as the model was trained to do;
those are single control tokens, written here as llama.cpp token literals, and so is the
closing `</answer>`.

Every free-text part has a length bound, so the whole answer has a bound too
(`ANSWER_RESERVE`): the engine closes the thinking early enough to leave room for it.
Text may not contain `<|` or `</` (how the allowed control tokens' text begins: a
character rule could otherwise match `</answer>` and close the answer early), control
characters, or, on one-line parts, newlines.
"""

from __future__ import annotations

from glmv_cli.tasks.actions import Platform

LINE = 1000  # a Memory/Reason/Thought/explanation line, in characters
TEXT = 300  # a string inside an action (text to type, an answer, an app name)
MEMORY_ITEMS = 4  # desktop/web memory: objects, and pairs per object
MEMORY_TEXT = 80  # a key or value in the memory

_COMMON = rf"""
ws ::= " "?
boxed ::= <|begin_of_box|> call <|end_of_box|> | call
lchar ::= [^\n<\x00-\x1f\x7f] | "<" [^|/\n\x00-\x1f\x7f]
line ::= lchar{{0,{LINE}}}
schar ::= [^"\\<\x00-\x1f\x7f] | "\\" ["\\/nt] | "<" [^|/"\\\x00-\x1f\x7f]
string ::= "\"" schar{{0,{TEXT}}} "\""
short ::= "\"" schar{{0,{MEMORY_TEXT}}} "\""
pair ::= short ":" ws short
object ::= "{{}}" | "{{" pair ("," ws pair){{0,{MEMORY_ITEMS - 1}}} "}}"
"""

# AndroidWorld actions as JSON, keys in the order of the reference's calling rules.
MOBILE = r"""
root ::= "Memory: " line "\nReason: " line "\nAction: " boxed </answer>
call ::= "{" ws "\"action_type\":" ws action ws "}"
action ::= status | answer | tap | input | swipe | openapp | bare
status ::= "\"status\"," ws "\"goal_status\":" ws ("\"complete\"" | "\"infeasible\"")
answer ::= "\"answer\"," ws "\"text\":" ws string
tap ::= ("\"click\"" | "\"long_press\"") "," ws "\"box_2d\":" ws box
input ::= "\"input_text\"," ws "\"text\":" ws string "," ws "\"box_2d\":" ws box override
override ::= "," ws "\"override\":" ws ("true" | "false")
swipe ::= "\"swipe\"," ws "\"direction\":" ws direction ("," ws "\"box_2d\":" ws box)?
direction ::= "\"up\"" | "\"down\"" | "\"left\"" | "\"right\""
openapp ::= "\"open_app\"," ws "\"app_name\":" ws string
bare ::= "\"keyboard_enter\"" | "\"navigate_home\"" | "\"navigate_back\"" | "\"wait\""
box ::= "[[" num "," ws num "," ws num "," ws num "]]"
num ::= [0-9] | [1-9] [0-9] | [1-9] [0-9] [0-9]
"""

# OSWorld actions as function calls with single-quoted arguments, then the memory.
DESKTOP = r"""
root ::= line "\n" boxed "\nMemory:\n" memory </answer>
call ::= click | drag | key | type | scroll | "WAIT()" | "DONE()" | "FAIL()"
click ::= pointer "(start_box='" point "'" info? ")"
pointer ::= "left_click" | "right_click" | "middle_click" | "hover" | "left_double_click"
drag ::= "left_drag(start_box='" point "', end_box='" point "'" info? ")"
key ::= "key(keys=" quoted ")"
type ::= "type(content=" quoted ")"
scroll ::= "scroll(start_box='" point "', direction='" ("down" | "up") "', step=" step info? ")"
info ::= ", element_info=" quoted
point ::= "[" num "," ws num "]"
num ::= [0-9] | [1-9] [0-9] | [1-9] [0-9] [0-9] | "1000"
step ::= [1-9] | [1-9] [0-9]
qchar ::= [^'\\<\n\x00-\x1f\x7f] | "\\" ['\\n] | "<" [^|/'\n\x00-\x1f\x7f]
quoted ::= "'" qchar{0,300} "'"
memory ::= "[]" | "[" object ("," ws object){0,3} "]"
"""

# WebVoyager actions on set-of-marks labels, then the updated memory.
WEB = r"""
root ::= "Thought: " line "\nAction: " boxed "\nMemory_Updated: " object </answer>
call ::= click | type | scroll | "Wait" | "GoBack" | "Bing" | answer | key
click ::= "Click [" label "]"
type ::= "Type [" label "]; [" tchar{0,300} "]"
scroll ::= "Scroll [" (label | "WINDOW") "]; [" ("up" | "down") "]"
answer ::= "ANSWER; <content>" achar{0,300} "</content>"
key ::= "Key; [" [A-Za-z0-9_+]{1,20} "]"
label ::= [0-9] | [1-9] [0-9]{1,3}
tchar ::= [^\]\n<\x00-\x1f\x7f] | "<" [^|/\]\n\x00-\x1f\x7f]
achar ::= [^<\n\x00-\x1f\x7f]
"""

_GRAMMARS: dict[str, str] = {"mobile": MOBILE, "desktop": DESKTOP, "web": WEB}

_MEMORY_MAX = MEMORY_ITEMS * MEMORY_ITEMS * (2 * MEMORY_TEXT + 8) + 16
# The longest answer each grammar allows, in characters (a token is at least one, except
# for the few control tokens), with some slack for the fixed text.
ANSWER_RESERVE: dict[str, int] = {
    "mobile": 2 * LINE + TEXT * 2 + 200,
    "desktop": LINE + 2 * TEXT + _MEMORY_MAX + 200,
    "web": LINE + TEXT + MEMORY_ITEMS * (2 * MEMORY_TEXT + 8) + 200,
}


def action_grammar(platform: Platform) -> str:
    """The GBNF for `platform`'s answer (root rule `root`)."""
    return _GRAMMARS[platform] + _COMMON
