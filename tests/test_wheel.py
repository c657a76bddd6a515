"""The built wheel works outside the repository: build it, install it into a fresh venv
(its dependencies from the package index), and from a temporary folder that is not the
repository run `--version`, `schema`, `init`, `validate` and a short `run --demo-target`.

It skips only when the package index cannot be reached (recognised by pip's own
connection errors); any other failure to build or install fails the test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO
from yamlload import __version__

pytestmark = pytest.mark.slow

# pip's words when it could not reach an index at all (urllib3 and socket errors).
UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name"
    r" resolution|Name or service not known|Network is unreachable|ConnectTimeoutError"
    r"|ProxyError|Max retries exceeded|No route to host|nodename nor servname|Connection refused"
)
# Bounds: a build or install that hangs fails the test instead of the whole run.
BUILD_SECONDS = 300
INSTALL_SECONDS = 600
COMMAND_SECONDS = 120
PYTEST = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rs"]
SHORT_PHASES = '{"config":{"phases":[{"duration":2,"arrivalRate":2}]}}'


def _clean_env(venv_bin: Path | None = None) -> dict[str, str]:
    """The environment without anything that would point Python back at the repo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.pop("GITHUB_STEP_SUMMARY", None)  # the run would append to CI's summary
    if venv_bin is not None:
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv_bin.parent)
    return env


def _pip(args: list[str], python: str, timeout: int) -> subprocess.CompletedProcess[str]:
    # With no retries pip hides why an index could not be reached; with some it prints
    # the connection error that UNREACHABLE recognises.
    result = subprocess.run(
        [python, "-m", "pip", *args, "--retries", "2"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        cwd=REPO if args[0] == "wheel" else None,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if UNREACHABLE.search(output):
            pytest.skip(f"the package index cannot be reached (pip {args[0]}): {output[-500:]}")
        pytest.fail(f"pip {' '.join(args)} failed ({result.returncode}):\n{output[-4000:]}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the repository."""
    dist = tmp_path_factory.mktemp("wheel") / "dist"
    _pip(["wheel", ".", "--no-deps", "-w", str(dist)], sys.executable, BUILD_SECONDS)
    wheels = sorted(dist.glob("yamlload-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, built from the repository by hatchling (the build backend) in a venv
    of its own, as `python -m build` builds it."""
    root = tmp_path_factory.mktemp("sdist")
    venv.EnvBuilder(with_pip=True, clear=True).create(root / "venv")
    bin_dir = root / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    _pip(["install", "--quiet", "hatchling>=1.21"], python, INSTALL_SECONDS)
    out = root / "dist"
    build = subprocess.run(
        [python, "-c", f"from hatchling.build import build_sdist; build_sdist({str(out)!r})"],
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
        env=_clean_env(),
        cwd=REPO,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    archives = sorted(out.glob("yamlload-*.tar.gz"))
    assert len(archives) == 1, archives
    return archives[0]


def _hidden(names: list[str]) -> list[str]:
    """The members with a dot-file or dot-folder anywhere in their path."""
    return [n for n in names if any(part.startswith(".") for part in n.split("/"))]


def test_the_wheel_holds_the_package_and_no_dot_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert _hidden(names) == [], _hidden(names)
    tops = {name.split("/")[0] for name in names}
    assert tops == {"yamlload", f"yamlload-{__version__}.dist-info"}, tops


def _long_description(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode("utf-8")
    return metadata.split("\n\n", 1)[1]  # the body after the headers


def test_the_long_description_has_no_link_that_breaks_on_pypi(wheel: Path) -> None:
    # PyPI shows the README with no repository to resolve `docs/report.png` or
    # `docs/cli.md` against: the long description keeps only absolute links.
    text = _long_description(wheel)
    assert text.startswith("# yamlload"), text[:200]
    assert "yamlload init" in text and "pip install yamlload" in text
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"src=\"([^\"]+)\"", text)
    relative = [t for t in targets if not re.match(r"https?://|#|mailto:", t)]
    assert relative == [], relative
    assert "![" not in text  # no image without an address PyPI can fetch


def test_the_sdist_has_no_dot_files_nor_repository_only_files(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert _hidden(names) == [], _hidden(names)  # .gitignore, .github, .ci, .dockerignore
    tops = {name.split("/")[0] for name in names}
    assert tops == {
        "yamlload",
        "tests",
        "plans",
        "schema",
        "docs",
        "README.md",
        "pyproject.toml",
        "hatch_build.py",  # the build hook that leaves .gitignore out
        "PKG-INFO",
    }, tops
    # The action and the container are the repository's, not the Python package's.
    assert "action.yml" not in names and "Dockerfile" not in names


def test_the_repository_only_tests_skip_cleanly_in_the_sdist(sdist: Path, tmp_path: Path) -> None:
    # tests/test_action.py and tests/test_dockerfile.py read action.yml, the Dockerfile
    # and .dockerignore, which the sdist leaves out: from the unpacked sdist they skip
    # and say why, instead of failing.
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
            archive.extractall(tmp_path, filter="data")
        else:
            archive.extractall(tmp_path)  # our own archive, just built
    (unpacked,) = tmp_path.iterdir()
    env = _clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [*PYTEST, "tests/test_action.py", "tests/test_dockerfile.py"],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        env=env,
        cwd=unpacked,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    # 5: pytest collected no test, every module skipped itself.
    assert result.returncode in (0, 5), output
    assert re.search(r"\b\d+ skipped\b", output), output
    assert not re.search(r"\b(passed|failed|error)\b", output), output
    assert "not in the sdist" in output, output


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv with the built wheel installed."""
    root = tmp_path_factory.mktemp("venv")
    wheels = [wheel]
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    _pip(["install", "--quiet", str(wheels[0])], python, INSTALL_SECONDS)
    return bin_dir


def _yamlload(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "yamlload"), *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        env=_clean_env(bin_dir),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def test_the_wheel_runs_from_a_folder_outside_the_repo(installed: Path, tmp_path: Path) -> None:
    # One test, not several: under xdist each worker would build and install its own.
    assert REPO not in tmp_path.resolve().parents
    where = subprocess.run(
        [str(installed / "python"), "-c", "import yamlload; print(yamlload.__file__)"],
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        env=_clean_env(installed),
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    path = Path(where.stdout.strip()).resolve()
    assert "site-packages" in path.parts, path  # the wheel's copy, not the repository's
    assert REPO not in path.parents, path

    version = _yamlload(installed, tmp_path, "--version")
    assert version.returncode == 0, version.stderr
    assert __version__ in version.stdout

    schema = _yamlload(installed, tmp_path, "schema")
    assert schema.returncode == 0, schema.stderr
    assert json.loads(schema.stdout)["$id"].endswith("plan.schema.json")

    report_schema = _yamlload(installed, tmp_path, "schema", "--report")
    assert report_schema.returncode == 0, report_schema.stderr
    assert json.loads(report_schema.stdout)["$id"].endswith("report.schema.json")

    init = _yamlload(installed, tmp_path, "init")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "plan.yml").is_file()

    validate = _yamlload(installed, tmp_path, "validate", "plan.yml")
    assert validate.returncode == 0, validate.stdout + validate.stderr

    run = _yamlload(
        installed,
        tmp_path,
        "run",
        "--demo-target",
        "plan.yml",
        "--overrides",
        SHORT_PHASES,
        "-o",
        "r.json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["aggregate"]["counters"]["http.requests"] > 0, report["aggregate"]["counters"]
