"""`glmv code` end to end on the tiny model: files written, nothing overwritten."""

from __future__ import annotations

import json

from tests.conftest import make_image

SHORT = ("--think-budget", "6", "--max-tokens", "40")


def test_piped_stdout_is_the_code(glmv, tmp_path):
    img = make_image(tmp_path / "mock.png")
    r = glmv("code", str(img), *SHORT)
    js = json.loads(glmv("code", str(img), "--json", *SHORT).stdout)
    assert r.returncode == 0, r.stderr
    assert r.stdout == js["code"] and js["code"].strip()
    assert js["framework"] == "html" and js["files"][0]["name"].endswith(".html")


def test_output_file_written_and_not_overwritten(glmv, tmp_path):
    img = make_image(tmp_path / "mock.png")
    r = glmv("code", str(img), "--framework", "react", "-o", "page.jsx", *SHORT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "page.jsx"
    written = (tmp_path / "page.jsx").read_text()
    assert written.strip()
    again = glmv("code", str(img), "-o", "page.jsx", *SHORT)
    assert again.returncode == 2 and "exists" in again.stderr
    assert (tmp_path / "page.jsx").read_text() == written
    forced = glmv("code", str(img), "-o", "page.jsx", "--force", *SHORT)
    assert forced.returncode == 0


def test_output_folder(glmv, tmp_path):
    img = make_image(tmp_path / "mock.png")
    r = glmv("code", str(img), "--framework", "vue", "-o", "site/", *SHORT)
    assert r.returncode == 0, r.stderr
    paths = r.stdout.split()
    assert paths and all(p.startswith("site/") for p in paths)
    assert all((tmp_path / p).is_file() for p in paths)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_framework(glmv, tmp_path):
    r = glmv("code", str(make_image(tmp_path / "m.png")), "--framework", "svelte")
    assert r.returncode == 2 and "html, react or vue" in r.stderr


def test_no_code_in_a_cut_off_answer_is_exit_8(glmv, tmp_path):
    r = glmv("code", str(make_image(tmp_path / "m.png")), "--max-tokens", "3")
    assert r.returncode == 8 and "holds no code" in r.stderr and "--max-tokens" in r.stderr
    assert r.stdout == ""


def test_a_failed_write_is_exit_9(glmv, tmp_path):
    # /proc refuses new files even to root: the temporary file cannot be made.
    r = glmv("code", str(make_image(tmp_path / "m.png")), "-o", "/proc/version", "--force",
             *SHORT)
    assert r.returncode == 9 and "cannot write" in r.stderr
