"""The container image's recipe. Without a Docker daemon (as on this project's CI) the
image is not built: these tests read the Dockerfile and .dockerignore and check the
properties docs/docker.md promises. Where a daemon answers, the last test builds the
image and runs `--version` and a short `run --demo-target` inside it."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
CONSTRAINTS = REPO / "requirements" / "docker-constraints.txt"
if not (DOCKERFILE.is_file() and DOCKERIGNORE.is_file()):
    pytest.skip(
        "the Dockerfile and .dockerignore are not in the sdist (the image is built from a"
        " checkout): these tests run from a checkout",
        allow_module_level=True,
    )


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


# A pinned base: a full Python release on a named Debian release, optionally a digest.
PINNED_BASE = re.compile(r"python:3\.12\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?")


def test_dockerfile_builds_the_wheel_in_a_builder_stage_on_slim_python() -> None:
    froms = [rest for word, rest in _instructions() if word == "FROM"]
    assert len(froms) == 2, froms
    assert all(PINNED_BASE.fullmatch(f.split()[0]) for f in froms), froms
    assert len({f.split()[0] for f in froms}) == 1, "both stages on the same base"
    assert froms[0].split()[-2:] == ["AS", "builder"], froms[0]
    steps = _instructions()
    builder = steps[: len(steps) - len(_final_stage())]
    builder_runs = [rest for word, rest in builder if word == "RUN"]
    assert any("build --wheel" in run for run in builder_runs), builder_runs


def test_dockerfile_build_step_is_pinned() -> None:
    # The wheel is built by pinned tools, not whatever the index has that day: every
    # package the builder installs is `name==version`, and the build does not make an
    # isolated environment of its own (which would fetch an unpinned hatchling).
    steps = _instructions()
    builder = steps[: len(steps) - len(_final_stage())]
    runs = [rest for word, rest in builder if word == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert installs, runs
    for run in installs:
        args = shlex.split(run.split("pip install", 1)[1].split("&&", 1)[0])
        packages = [a for a in args if not a.startswith("-")]
        assert packages and all(
            re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][\w.]*", a) for a in packages
        ), args
        assert {"build", "hatchling"} <= {a.split("==")[0] for a in packages}, args
        assert "--no-deps" in args, "an unlisted dependency would come unpinned"
    assert any("build --wheel --no-isolation" in r for r in runs), runs
    # hatch_build.py (pyproject.toml's hooks) reaches the build.
    copies = " ".join(rest for word, rest in builder if word == "COPY")
    assert "hatch_build.py" in copies, copies


def test_docker_docs_examples_that_mount_a_folder_run_as_the_user() -> None:
    # Reports written into the mounted folder belong to whoever ran the container.
    text = (REPO / "docs" / "docker.md").read_text(encoding="utf-8")
    runs = [line for line in text.splitlines() if "docker run" in line and " -v " in line]
    assert runs
    for line in runs:
        assert '--user "$(id -u):$(id -g)"' in line, line
    base = PINNED_BASE.search(DOCKERFILE.read_text(encoding="utf-8"))
    assert base is not None and base.group(0) in text, "docs/docker.md names the base image"


def test_dockerfile_final_stage_installs_the_wheel_from_the_builder() -> None:
    final = _final_stage()
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies and all(c.startswith("--from=builder ") for c in copies), copies
    runs = " ".join(rest for word, rest in final if word == "RUN")
    assert "pip install" in runs and ".whl" in runs, runs


def test_dockerfile_runs_as_a_non_root_user_in_plans_with_the_yamlload_entrypoint() -> None:
    final = _final_stage()
    users = [rest for word, rest in final if word == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    words = [word for word, _ in final]
    # The user is set after every RUN (the installs need root) and before the entrypoint.
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")
    workdirs = [rest for word, rest in final if word == "WORKDIR"]
    assert workdirs[-1] == "/plans", workdirs
    entrypoints = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert json.loads(entrypoints[0]) == ["yamlload"], "exec form, so signals reach yamlload"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for these patterns: the last matching line wins."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, bare) for p in prefixes) or fnmatch.fnmatchcase(
            path, bare.replace("**/", "*")
        ):
            ignored = not negate
    return ignored


def _dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_dockerignore_sends_only_what_the_wheel_needs() -> None:
    patterns = _dockerignore_patterns()
    for needed in (
        "pyproject.toml",
        "README.md",
        "hatch_build.py",
        "yamlload/_version.py",
        "yamlload/cli/app.py",
    ):
        assert not _ignored(needed, patterns), needed
    for left_out in (".venv/bin/python", ".git/HEAD", "tests/test_wheel.py", "bench/run.py"):
        assert _ignored(left_out, patterns), left_out
    assert _ignored("yamlload/__pycache__/app.cpython-312.pyc", patterns)


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


@pytest.mark.slow
def test_the_image_builds_and_runs_a_plan(tmp_path: Path) -> None:
    if not _docker_daemon():
        pytest.skip("no Docker daemon answers `docker info` here: the image is not built")
    tag = f"yamlload-test:{uuid.uuid4().hex[:12]}"
    build = subprocess.run(
        ["docker", "build", "-t", tag, str(REPO)], capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stderr[-4000:]
    try:
        version = subprocess.run(
            ["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=60
        )
        assert version.returncode == 0, version.stderr
        whoami = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert whoami.stdout.strip() not in ("", "0"), whoami.stdout
        # In /plans (owned by the image's user), offline: the demo target runs in the
        # container beside yamlload.
        script = (
            "yamlload init && yamlload run --demo-target plan.yml -o r.json --overrides "
            + shlex.quote('{"config":{"phases":[{"duration":1,"arrivalRate":2}]}}')
        )
        run = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", tag, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


# The image's platform, for the dependencies' markers (`sys_platform != 'win32'`, ...).
IMAGE_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.8",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "extra": "",
}


def _pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][\w.]*)", line)
            assert match, f"not name==version: {line!r}"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_docker_constraints_pin_every_runtime_dependency_of_the_image() -> None:
    # The final stage installs the wheel --no-deps with exactly these pins (and `pip
    # check` fails the build if one is missing): each of pyproject.toml's dependencies
    # for the image's platform is pinned, to a version its specifier allows, and so is
    # every dependency of theirs this (tested) environment has installed.
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
    pins = _pins()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    todo = [Requirement(d) for d in project["project"]["dependencies"]]
    for requirement in todo:
        if requirement.marker is None or requirement.marker.evaluate(IMAGE_MARKERS):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{name} (pyproject.toml) is not pinned in {CONSTRAINTS.name}"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                name,
                pins[name],
                str(requirement.specifier),
            )
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate(IMAGE_MARKERS)):
            continue
        seen.add(name)
        assert name in pins, f"{name} (needed by the wheel) is not pinned in {CONSTRAINTS.name}"
        try:
            todo += [Requirement(r) for r in metadata.requires(requirement.name) or []]
        except metadata.PackageNotFoundError:
            continue  # not installed here: the image's `pip check` covers it
    assert set(pins) == seen, f"pinned but not needed: {sorted(set(pins) - seen)}"


def test_dockerfile_final_stage_installs_only_pinned_dependencies() -> None:
    final = _final_stage()
    copies = " ".join(rest for word, rest in final if word == "COPY")
    assert "requirements/docker-constraints.txt" in copies, copies
    runs = " ".join(rest for word, rest in final if word == "RUN")
    install = runs.split("pip install", 1)[1].split("&&", 1)[0]
    args = shlex.split(install)
    assert "--no-deps" in args and "-r" in args, args
    assert args[args.index("-r") + 1].endswith("docker-constraints.txt"), args
    assert "pip check" in runs, runs
    assert not _ignored("requirements/docker-constraints.txt", _dockerignore_patterns())
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "nothing unpinned" not in text or "docker-constraints.txt" in text
