"""`yamlload init`: a starter plan that validates and runs unchanged against the demo
target, never written over a file; and shell completion with the lazily loaded commands."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli


def _run_report(plan: Path, tmp_path: Path) -> dict:
    report = tmp_path / "report.json"
    result = run_cli("run", "--demo-target", "-q", str(plan), "-o", str(report))
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", ["open", "closed"])
def test_the_starter_plan_validates_and_runs_unchanged(model: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    result = run_cli("init", str(plan), "--model", model)
    assert result.exit_code == 0, result.stderr
    assert f"Wrote {plan}" in result.stdout
    assert f"yamlload validate {plan}" in result.stdout
    assert f"yamlload run --demo-target {plan}" in result.stdout
    text = plan.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    assert ("users:" in text) == (model == "closed")
    assert ("arrivalRate:" in text) == (model == "open")

    checked = run_cli("validate", str(plan))
    assert checked.exit_code == 0, checked.stderr
    assert checked.stderr == ""  # not even a warning

    counters = _run_report(plan, tmp_path)["aggregate"]["counters"]
    assert counters["http.requests"] > 0
    assert not {k: v for k, v in counters.items() if k.startswith("errors.")}
    assert counters.get("vusers.failed", 0) == 0  # a failed capture would fail the user
    assert counters.get("plugins.expect.failed", 0) == 0
    assert counters["plugins.expect.ok"] > 0
    # The demo shop takes an order only with the captured token in its header (else 401).
    assert counters["http.codes.201"] > 0
    assert "http.codes.401" not in counters


def test_the_default_file_is_plan_yml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("init")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "plan.yml").read_text(encoding="utf-8").startswith("# yaml-language")
    assert "yamlload validate plan.yml" in result.stdout


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yml"
    plan.write_text("mine\n", encoding="utf-8")
    result = run_cli("init", str(plan))
    assert result.exit_code == 2
    assert str(plan) in result.stderr
    assert "already exists" in result.stderr
    assert plan.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yml"]  # no temporary left


def test_a_file_made_meanwhile_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creates the file between init's check and its write."""
    from yamlload.cli import init

    plan = tmp_path / "plan.yml"
    real_link = os.link

    def link_after_someone_else(source: str, target: Path) -> None:
        plan.write_text("theirs\n", encoding="utf-8")
        real_link(source, target)

    monkeypatch.setattr(init.os, "link", link_after_someone_else)
    result = run_cli("init", str(plan))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert plan.read_text(encoding="utf-8") == "theirs\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yml"]


def test_without_hard_links_the_file_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamlload.cli import init

    def no_links(source: str, target: Path) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(init.os, "link", no_links)
    plan = tmp_path / "plan.yml"
    result = run_cli("init", str(plan))
    assert result.exit_code == 0, result.stderr
    assert plan.read_text(encoding="utf-8") == init.starter_plan("open", "plan.yml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yml"]


def test_a_dangling_symlink_is_not_followed(tmp_path: Path) -> None:
    link = tmp_path / "plan.yml"
    link.symlink_to(tmp_path / "elsewhere.yml")
    result = run_cli("init", str(link))
    assert result.exit_code == 2
    assert not (tmp_path / "elsewhere.yml").exists()


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    plan = tmp_path / "no" / "such" / "plan.yml"
    result = run_cli("init", str(plan))
    assert result.exit_code == 2
    assert "no such folder" in result.stderr
    assert str(plan.parent) in result.stderr
    assert not (tmp_path / "no").exists()


def test_a_folder_is_refused(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 2
    assert str(tmp_path) in result.stderr


def test_dash_prints_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "-", "--model", "closed")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# yaml-language-server: $schema=")
    assert "spawnRate:" in result.stdout
    assert list(tmp_path.iterdir()) == []  # printed, no file written
    assert "Wrote" not in result.stdout + result.stderr


def test_dash_to_a_full_disk_is_exit_4() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", "from yamlload.cli.app import main; main()", "init", "-"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 4, done.stderr  # not 70, "a bug in yamlload"
    assert "could not write to standard output" in done.stderr


def _complete(shell_var: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "_YAMLLOAD_COMPLETE": shell_var, **env}
    return subprocess.run(
        [sys.executable, "-c", "from yamlload.cli.app import main; main()"],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("words", "offered"), [("yamlload ru", "run"), ("yamlload in", "init")])
def test_bash_completes_the_lazily_loaded_commands(words: str, offered: str) -> None:
    done = _complete("bash_complete", COMP_WORDS=words, COMP_CWORD="1")
    assert done.returncode == 0, done.stderr
    assert f"plain,{offered}" in done.stdout.splitlines()


def test_bash_completes_a_commands_options() -> None:
    done = _complete("bash_complete", COMP_WORDS="yamlload init --mo", COMP_CWORD="2")
    assert done.returncode == 0, done.stderr
    assert "plain,--model" in done.stdout.splitlines()


@pytest.mark.parametrize(
    ("shell", "defines"),
    [
        ("bash_source", "_yamlload_completion()"),
        ("zsh_source", "_yamlload_completion()"),
        ("fish_source", "function _yamlload_completion"),
    ],
)
def test_the_completion_script_defines_its_function(shell: str, defines: str) -> None:
    done = _complete(shell)
    assert done.returncode == 0, done.stderr
    assert defines in done.stdout
    assert "_YAMLLOAD_COMPLETE" in done.stdout


@pytest.mark.parametrize("name", ["a\nb.yml", "a\rb.yml", "tab\there.yml", "ls\u2028ep.yml"])
def test_a_file_name_with_a_line_break_keeps_the_header_a_comment(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", name)
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / name).read_text(encoding="utf-8")
    header = text[: text.index("config:")]
    # Every line of the header is still a comment (YAML breaks lines at \n, \r, U+2028).
    for line in header.replace("\r", "\n").replace("\u2028", "\n").splitlines():
        assert line == "" or line.startswith("#"), repr(line)
    # The commands shown are one line each and, pasted into bash, name the file.
    from yamlload.cli import init

    quoted = init.shell_word(name)
    assert f"#   yamlload validate {quoted}\n" in header
    assert quoted.startswith("$'") and quoted.isprintable(), quoted
    assert f"yamlload run --demo-target {quoted}" in result.stdout
    assert len(result.stdout.splitlines()) == 4, result.stdout  # Wrote, Next, two commands
    bash = subprocess.run(
        ["bash", "-c", f"printf %s {quoted}"], capture_output=True, timeout=30, check=True
    )
    assert bash.stdout == name.encode("utf-8")
    validate = run_cli("validate", str(tmp_path / name))
    assert validate.exit_code == 0, validate.stdout + validate.stderr


def test_shell_word_quotes_plain_names_as_before() -> None:
    from yamlload.cli import init

    assert init.shell_word("plan.yml") == "plan.yml"
    assert init.shell_word("my plan.yml") == "'my plan.yml'"
    assert init.shell_word("it's\n.yml") == "$'it\\'s\\n.yml'"


@pytest.mark.parametrize("suffix", ["/", "/.", "//"])
def test_a_folder_name_is_refused_not_written_as_a_file(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `init newdir/` used to write a file named `newdir`: a name that ends like a folder
    # is refused (exit 2), whether the folder exists or not, and nothing is written.
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "newdir" + suffix)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "names a folder" in result.stderr and "newdir/plan.yml" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "existing").mkdir()
    result = run_cli("init", "existing" + suffix)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "names a folder" in result.stderr
    assert list((tmp_path / "existing").iterdir()) == []


def test_an_existing_folder_without_a_slash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    result = run_cli("init", "existing")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "existing" in result.stderr and "Traceback" not in result.stderr
    assert list((tmp_path / "existing").iterdir()) == []


@pytest.mark.parametrize("name", ["-y.yml", "--help.yml", "-\n.yml"])
def test_a_file_name_beginning_with_a_dash_is_shown_as_a_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `yamlload validate -y.yml` would read -y as an option: the commands say ./-y.yml.
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "--", name)
    assert result.exit_code == 0, result.stdout + result.stderr
    from yamlload.cli import init

    quoted = init.shell_word(name)
    assert quoted.lstrip("$'").startswith("./-"), quoted
    header = (tmp_path / name).read_text(encoding="utf-8").split("config:")[0]
    assert f"#   yamlload validate {quoted}\n" in header
    assert f"  yamlload validate {quoted}\n" in result.stdout
    bash = subprocess.run(
        ["bash", "-c", f"printf %s {quoted}"], capture_output=True, timeout=30, check=True
    )
    assert bash.stdout == ("./" + name).encode("utf-8")
    validate = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m yamlload validate {quoted}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert init.shell_word("/abs/-x.yml") == "/abs/-x.yml"  # only a leading dash


def test_a_long_valid_file_name_is_written(tmp_path: Path) -> None:
    # 249 characters is a valid name; the temporary file's name must not outgrow 255.
    name = "p" * 245 + ".yml"
    result = run_cli("init", str(tmp_path / name))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (tmp_path / name).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_already_exists_names_the_file_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = "a\nb.yml"
    (tmp_path / name).write_text("mine\n", encoding="utf-8")
    result = run_cli("init", name)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "already exists" in lines[0], result.stderr
    assert "$'a\\nb.yml'" in lines[0]


def test_the_starter_plan_points_to_help_every_user_has() -> None:
    # A pip or container user has no docs/ folder: the header names the schema command
    # and says where the editor guide lives.
    from yamlload.cli import init

    text = init.starter_plan("open")
    header = text.split("config:")[0]
    assert "(see docs/" not in header
    assert "yamlload schema --help" in header
    assert "docs/editor-setup.md in yamlload's repository" in header.replace("\n# ", " ")
