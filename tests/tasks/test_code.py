"""Code blocks from fixed answers: file names, defaults, and writing that stays in its folder."""

from __future__ import annotations

import pytest

from glmv_cli.tasks.code import (
    WriteRefused,
    extract_blocks,
    main_block,
    plan_folder,
    safe_name,
    write_folder,
)

HTML_ANSWER = """Here is the page.

**index.html**
```html
<!DOCTYPE html>
<html><head><link rel="stylesheet" href="styles.css"></head><body>Hi</body></html>
```

`styles.css`:
```css
body { color: red; }
```

```js
// script.js
console.log("hi");
```
"""


def test_names_from_the_line_before_a_comment_and_defaults():
    blocks = extract_blocks(HTML_ANSWER, "html")
    assert [b.name for b in blocks] == ["index.html", "styles.css", "script.js"]
    assert blocks[0].code.startswith("<!DOCTYPE html>") and blocks[0].code.endswith("</html>\n")
    assert blocks[1].code == "body { color: red; }\n"
    assert main_block(blocks, "html").name == "index.html"


def test_info_string_names_and_unnamed_defaults():
    answer = ('```jsx title="src/App.jsx"\nexport default function App() {}\n```\n'
              "```css\n.a {}\n```\n```jsx\nconst B = 1;\n```\n")
    blocks = extract_blocks(answer, "react")
    assert [b.name for b in blocks] == ["src/App.jsx", "styles.css", "App.jsx"]
    assert main_block(blocks, "react").name == "src/App.jsx"  # the first App.jsx


def test_duplicate_names_get_suffixes():
    blocks = extract_blocks("```html\n<p>a</p>\n```\n```html\n<p>b</p>\n```\n", "html")
    assert [b.name for b in blocks] == ["index.html", "index-2.html"]


def test_bare_code_answer_is_one_block():
    blocks = extract_blocks("<template><div/></template>", "vue")
    assert len(blocks) == 1 and blocks[0].name == "App.vue"
    assert extract_blocks("   ", "html") == []


@pytest.mark.parametrize("name", ["../evil.html", "/etc/passwd", "a/../../b.js", "C:x.js",
                                  "..\\x.js", ".bashrc", "a/.git/config", "a b.js"])
def test_unsafe_names_are_refused(name):
    assert safe_name(name) is None


def test_unsafe_model_names_fall_back_to_defaults():
    answer = "../../outside.html\n```html\n<p>x</p>\n```\n```css\n/* ../../x.css */\np{}\n```\n"
    blocks = extract_blocks(answer, "html")
    assert [b.name for b in blocks] == ["index.html", "styles.css"]
    assert not any(b.named_by_model for b in blocks)


def test_write_folder_refuses_existing_files_unless_forced(tmp_path):
    blocks = extract_blocks(HTML_ANSWER, "html")
    out = tmp_path / "site"
    write_folder(blocks, plan_folder(blocks, out, force=False))
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "script.js", "styles.css"]
    (out / "styles.css").write_text("mine")
    with pytest.raises(WriteRefused, match="exists"):
        plan_folder(blocks, out, force=False)
    assert (out / "styles.css").read_text() == "mine"  # nothing was written
    write_folder(blocks, plan_folder(blocks, out, force=True))
    assert (out / "styles.css").read_text() == "body { color: red; }\n"


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "src").symlink_to(tmp_path)
    blocks = extract_blocks('```jsx title="src/App.jsx"\nx\n```\n', "react")
    with pytest.raises(WriteRefused, match="outside"):
        plan_folder(blocks, out, force=True)
