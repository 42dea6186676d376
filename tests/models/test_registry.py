"""models.toml: the shipped registry, user overrides, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmv_cli.errors import ConfigError
from glmv_cli.models.registry import load_registry, parse_registry

VALID = """\
default = "a:q4"

[models."a:q4"]
family = "a"
quant = "Q4"
repo = "o/r"
file = "a.gguf"
mmproj = "mm.gguf"
file_size = 10
sampling = { temperature = 0.5, top_k = 2 }
"""


def test_the_shipped_registry_loads_and_its_default_is_glm41v():
    reg = load_registry(Path("/nonexistent/models.toml"))
    assert reg.default == "glm-4.1v:q4_k_m"
    assert {"glm-4.1v:q4_k_m", "glm-4.6v-flash:q4_k_m", "glm-4.6v-flash:q8_0", "tiny"} <= set(
        reg.entries)
    flash = reg.entries["glm-4.6v-flash:q4_k_m"]
    assert flash.repo == "ggml-org/GLM-4.6V-Flash-GGUF" and flash.size == 6166577888 + 980055680
    assert reg.entries["tiny"].builtin and reg.entries["tiny"].file_sha256
    assert all(e.source for e in reg.entries.values())  # every entry says where it comes from


def test_a_family_name_alone_means_its_q4_k_m_build():
    reg = load_registry(Path("/nonexistent/models.toml"))
    assert reg.find("glm-4.1v").name == "glm-4.1v:q4_k_m"
    assert reg.find("glm-4.6v-flash").name == "glm-4.6v-flash:q4_k_m"
    assert reg.find("nope") is None


def test_valid_entry_fields():
    entries, default = parse_registry(VALID, "x.toml", user=True)
    e = entries["a:q4"]
    assert default == "a:q4" and e.repo == "o/r" and e.revision == "main"
    assert e.file_size == 10 and e.size is None and e.sampling == {"temperature": 0.5,
                                                                    "top_k": 2}


@pytest.mark.parametrize("edit, message", [
    (("file_size = 10", "file_size = \"ten\""), "x.toml:9: model 'a:q4': field 'file_size' "
                                                "must be an integer, not 'ten'"),
    (("file_size = 10", "colour = 1"), "x.toml:9: model 'a:q4': unknown field 'colour'"),
    (("quant = \"Q4\"\n", ""), "x.toml:3: model 'a:q4': missing field 'quant'"),
    (("file_size = 10", "file_sha256 = \"abc\""), "x.toml:9: model 'a:q4': field "
                                                  "'file_sha256' must be 64 lowercase hex"),
    (("file_size = 10", "confirmed = 1"), "x.toml:9: model 'a:q4': field 'confirmed' must be "
                                          "true or false"),
    (("file_size = 10", "builtin = true"), "x.toml:9: model 'a:q4': 'builtin' is reserved"),
    (("top_k = 2", "top_q = 2"), "x.toml:10: model 'a:q4': sampling.top_q is not one of"),
    (("file = \"a.gguf\"", "file = \"../../etc/passwd\""), "x.toml:7: model 'a:q4': field "
                                                           "'file' must be a file name"),
    (("mmproj = \"mm.gguf\"", "mmproj = \"mm.gguf"), "x.toml: invalid TOML: "),
    (("default = \"a:q4\"", "default = 3"), "x.toml:1: 'default' must be a string"),
])
def test_bad_entries_name_file_line_and_field(edit, message):
    old, new = edit
    assert old in VALID
    with pytest.raises(ConfigError) as err:
        parse_registry(VALID.replace(old, new), "x.toml", user=True)
    assert err.value.message.startswith(message), err.value.message


def test_invalid_toml_reports_the_line():
    with pytest.raises(ConfigError, match=r"x\.toml: invalid TOML: .*line 8"):
        parse_registry(VALID.replace('mmproj = "mm.gguf"', 'mmproj = "mm.gguf'), "x.toml",
                       user=True)


def test_user_registry_adds_and_overrides_entries(tmp_path):
    user = tmp_path / "models.toml"
    user.write_text(VALID + """
[models."glm-4.1v:q4_k_m"]
family = "glm-4.1v"
quant = "Q4_K_M"
repo = "me/mirror"
file = "x.gguf"
mmproj = "y.gguf"
""")
    reg = load_registry(user)
    assert reg.default == "a:q4"  # the user's default wins
    assert reg.entries["glm-4.1v:q4_k_m"].repo == "me/mirror"
    assert reg.entries["glm-4.1v:q4_k_m"].origin == str(user)
    assert "glm-4.6v-flash:q4_k_m" in reg.entries  # shipped entries stay


def test_a_user_default_that_does_not_exist_is_an_error(tmp_path):
    user = tmp_path / "models.toml"
    user.write_text('default = "missing"\n')
    with pytest.raises(ConfigError, match="default model 'missing' is not an entry"):
        load_registry(user)


def test_local_file_entries_need_no_repo(tmp_path):
    entries, _ = parse_registry('[models.local]\nfamily = "x"\nquant = "F16"\n'
                                'file = "/m/a.gguf"\nmmproj = "/m/b.gguf"\n', "u.toml",
                                user=True)
    assert entries["local"].repo is None


def test_a_broken_user_registry_is_a_one_line_error_with_exit_2(glmv, tmp_path, image):
    home = tmp_path / "home"
    home.mkdir()
    (home / "models.toml").write_text(VALID.replace("file_size = 10", "file_size = -1"))
    r = glmv("ask", str(image), "q", env={"GLMV_HOME": str(home)})
    assert r.returncode == 2
    assert r.stderr == (f"glmv: {home / 'models.toml'}:9: model 'a:q4': field 'file_size' "
                        "must be positive\n")


def test_a_hub_entry_needs_only_a_repo_and_a_quant_local_files_need_names():
    entries, _ = parse_registry('[models."b:q8"]\nfamily = "b"\nquant = "Q8_0"\n'
                                'repo = "o/r"\nmrope = true\n', "u.toml", user=True)
    assert entries["b:q8"].file == "" and entries["b:q8"].mrope is True
    with pytest.raises(ConfigError, match=r"u\.toml:1: model 'local': missing field 'mmproj'"):
        parse_registry('[models.local]\nfamily = "x"\nquant = "F16"\nfile = "/m/a.gguf"\n',
                       "u.toml", user=True)


def test_the_known_good_builds_are_the_llama_cpp_projects_own():
    reg = load_registry(Path("/nonexistent/models.toml"))
    assert sorted(e.name for e in reg.entries.values() if e.mrope and e.repo) == [
        "glm-4.6v-flash:q4_k_m", "glm-4.6v-flash:q8_0"]
