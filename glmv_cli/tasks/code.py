"""Code in a model's answer: fenced blocks, the file name each is meant for, and writing
them out without ever leaving the chosen folder.

A block's file name comes from, in order: the fence's info string (```jsx App.jsx,
```html title="index.html"), a comment on the block's first line (// App.jsx,
<!-- index.html -->, /* styles.css */), or the line just before the fence (**App.jsx**,
`index.html`, File: styles.css, ### src/App.jsx). Otherwise a default for its language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Literal

from glmv_cli.atomic import write_text_atomic

Framework = Literal["html", "react", "vue"]
FRAMEWORKS: tuple[Framework, ...] = ("html", "react", "vue")

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\n`]*)\n(.*?)^[ \t]*\2[ \t]*$",
                    re.MULTILINE | re.DOTALL)
_NAME = r"([\w][\w.\-/]*\.[A-Za-z0-9]{1,8})"
_INFO_NAME = re.compile(r"(?:title|file|filename|name)\s*=\s*[\"']?" + _NAME + r"|:" + _NAME
                        + r"$|^" + _NAME + "$|\\s" + _NAME + "$")
_COMMENT_NAME = re.compile(r"^\s*(?://|#|/\*|<!--|\{/\*)\s*(?:file(?:name)?:\s*)?" + _NAME
                           + r"\s*(?:\*/|-->|\*/\})?\s*$", re.IGNORECASE)
_LINE_NAME = re.compile(r"^[\s#>*`_\-\d.)]*(?:file(?:name)?\s*[:：]?\s*)?[*`_]*" + _NAME
                        + r"[*`_]*\s*[:：]?\s*$", re.IGNORECASE)

# Language tags to file extensions, and each framework's main file.
_EXT = {"html": "html", "htm": "html", "css": "css", "js": "js", "javascript": "js",
        "jsx": "jsx", "tsx": "tsx", "ts": "ts", "typescript": "ts", "vue": "vue",
        "json": "json", "scss": "scss", "sh": "sh", "bash": "sh", "svg": "svg"}
MAIN_FILE = {"html": "index.html", "react": "App.jsx", "vue": "App.vue"}
_DEFAULT_NAMES = {"html": "index.html", "css": "styles.css", "js": "script.js",
                  "jsx": "App.jsx", "tsx": "App.tsx", "ts": "index.ts", "vue": "App.vue",
                  "json": "data.json", "scss": "styles.scss", "sh": "setup.sh",
                  "svg": "image.svg"}


@dataclass(frozen=True)
class CodeBlock:
    """One block of code; `name` is a safe relative path (may have come from the model)."""

    code: str
    language: str
    name: str
    named_by_model: bool = False


def extract_blocks(answer: str, framework: Framework) -> list[CodeBlock]:
    """Every fenced block of `answer`, with file names; the whole answer when it has no
    fences but is not empty (the model sometimes answers with bare code)."""
    blocks: list[CodeBlock] = []
    for m in _FENCE.finditer(answer):
        info, body = m.group(3).strip(), _dedent(m.group(4), m.group(1))
        lang = info.split()[0].lower() if info else ""
        lang = lang.split(":")[0]
        name = _name_from_info(info) or _name_from_comment(body) or _name_before(
            answer, m.start())
        if name and "." not in lang and not _EXT.get(lang):
            lang = name.rsplit(".", 1)[-1].lower()
        blocks.append(CodeBlock(body.rstrip("\n") + "\n", lang or _guess(body, framework),
                                name or "", named_by_model=bool(name)))
    if not blocks and answer.strip():
        body = answer.strip("\n")
        blocks.append(CodeBlock(body + "\n", _guess(body, framework), ""))
    return _name_all(blocks, framework)


def main_block(blocks: list[CodeBlock], framework: Framework) -> CodeBlock:
    """The block that is the page itself: the framework's main file, else the longest
    block in the framework's language, else the longest."""
    want = MAIN_FILE[framework]
    for b in blocks:
        if PurePosixPath(b.name).name == want:
            return b
    ext = want.rsplit(".", 1)[1]
    same = [b for b in blocks if b.name.endswith("." + ext)]
    return max(same or blocks, key=lambda b: len(b.code))


def _dedent(body: str, indent: str) -> str:
    if not indent:
        return body
    return "\n".join(ln[len(indent):] if ln.startswith(indent) else ln
                     for ln in body.split("\n"))


def _name_from_info(info: str) -> str | None:
    m = _INFO_NAME.search(info)
    return next((g for g in m.groups() if g), None) if m else None


def _name_from_comment(body: str) -> str | None:
    first = body.split("\n", 1)[0]
    m = _COMMENT_NAME.match(first)
    return m.group(1) if m else None


def _name_before(answer: str, start: int) -> str | None:
    lines = answer[:start].rstrip("\n").rsplit("\n", 1)
    m = _LINE_NAME.match(lines[-1]) if lines and lines[-1].strip() else None
    return m.group(1) if m else None


def _guess(body: str, framework: Framework) -> str:
    head = body.lstrip()[:200].lower()
    if framework == "vue" and "<template" in head:
        return "vue"
    if head.startswith(("<!doctype", "<html", "<head", "<body", "<div", "<main")):
        return "html"
    return {"html": "html", "react": "jsx", "vue": "vue"}[framework]


def safe_name(name: str) -> str | None:
    """`name` as a relative path that cannot leave its folder, or None when it would
    (absolute paths, `..`, drive letters, hidden files, odd characters)."""
    if not name or "\\" in name or ":" in name or name.startswith("/"):
        return None
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    if not all(re.fullmatch(r"[\w.\-]+", p) for p in parts) or len(parts) > 8:
        return None
    return "/".join(parts)


def _name_all(blocks: list[CodeBlock], framework: Framework) -> list[CodeBlock]:
    """Safe, unique names for every block (model-given names that are unsafe are
    replaced by defaults)."""
    out: list[CodeBlock] = []
    used: set[str] = set()
    for b in blocks:
        name = safe_name(b.name) if b.name else None
        by_model = name is not None
        if name is None:
            ext = _EXT.get(b.language, b.language if re.fullmatch(r"[a-z0-9]{1,8}",
                                                                  b.language) else "txt")
            if ext == {"html": "html", "react": "jsx", "vue": "vue"}[framework]:
                name = MAIN_FILE[framework]
            else:
                name = _DEFAULT_NAMES.get(ext, f"snippet.{ext}")
        name = _unique(name, used)
        used.add(name.lower())
        out.append(replace(b, name=name, named_by_model=by_model))
    return out


def _unique(name: str, used: set[str]) -> str:
    if name.lower() not in used:
        return name
    stem, dot, ext = name.rpartition(".")
    n = 2
    while f"{stem}-{n}{dot}{ext}".lower() in used:
        n += 1
    return f"{stem}-{n}{dot}{ext}"


class WriteRefused(Exception):
    """A file would be overwritten (and --force was not given) or land outside the folder."""


def plan_folder(blocks: list[CodeBlock], folder: Path, force: bool) -> list[Path]:
    """Where each block goes under `folder`; refuses (before writing anything) files that
    exist unless `force`, and any path that resolves outside `folder` (symlinks)."""
    root = folder.resolve()
    targets = []
    for b in blocks:
        target = (folder / b.name)
        resolved = target.resolve()
        if root != resolved and root not in resolved.parents:
            raise WriteRefused(f"{b.name} would be written outside {folder}")
        if target.exists() and not force:
            raise WriteRefused(f"{target} exists (use --force to overwrite)")
        if target.is_dir():
            raise WriteRefused(f"{target} is a directory")
        targets.append(target)
    return targets


def write_folder(blocks: list[CodeBlock], targets: list[Path]) -> None:
    for b, target in zip(blocks, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, b.code)
