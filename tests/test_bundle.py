"""A shard on another machine needs no copy of the plan's folder (issue 21, item 1): the
plan and the files it reads travel as content (scale/bundle.py) and are unpacked into a
folder of the shard's own."""

from __future__ import annotations

import pickle
import shutil
import time
from pathlib import Path

from tests.servers import ServerThread
from yamlload import PlanOptions, load_plan
from yamlload.runtime.engine import RunOptions
from yamlload.scale.bundle import Bundle
from yamlload.scale.merge import decode_result
from yamlload.scale.shard import ShardJob, run_shard

PLAN = """config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 4}}]
  processor: ./hooks/sign.py
  payload: {{path: ../data/users.csv, fields: [name], order: sequence}}
scenarios:
  - flow:
      - function: sign
      - post:
          url: "/echo?who={{{{ name }}}}&sig={{{{ sig }}}}"
          formData: {{doc: {{fromFile: ./upload.txt}}}}
"""


def test_a_bundled_plan_runs_where_its_folder_is_not(
    tmp_path: Path, server: ServerThread, monkeypatch
) -> None:
    home = tmp_path / "project"
    (home / "plans" / "hooks").mkdir(parents=True)
    (home / "data").mkdir()
    (home / "data" / "users.csv").write_text("ada\nbob\ncyd\ndee\n", encoding="utf-8")
    (home / "plans" / "hooks" / "sign.py").write_text(
        "def sign(context, events=None, done=None):\n    context.vars['sig'] = 'ok'\n",
        encoding="utf-8",
    )
    (home / "plans" / "upload.txt").write_text("hello", encoding="utf-8")
    plan_path = home / "plans" / "load.yml"
    plan_path.write_text(PLAN.format(target=server.url), encoding="utf-8")
    (home / "base.yml").write_text("config:\n  http: {timeout: 5}\n", encoding="utf-8")
    # The CLI's user gave relative paths, a --config beside the plan's folder allowed
    # because it is in the current folder there, and ../data by --allow-path.
    monkeypatch.chdir(home)
    options = PlanOptions(allow_paths=("data",), config_file="base.yml")
    plan = load_plan("plans/load.yml", options)

    bundle = pickle.loads(pickle.dumps(Bundle.of(plan, "plans/load.yml", options)))
    assert sorted(name for name, _ in bundle.files) == [
        "base.yml",
        "data/users.csv",
        "plans/hooks/sign.py",
        "plans/load.yml",
        "plans/upload.txt",
    ]
    shutil.rmtree(home)  # the worker's machine has none of it
    monkeypatch.chdir(tmp_path)
    job = ShardJob(bundle.plan, options, RunOptions(seed=2), time.time() + 0.2, bundle)
    result = decode_result(run_shard(job))
    counters: dict[str, int] = {}
    for period in result.periods:
        for name, n in period.metrics.counters.items():
            counters[name] = counters.get(name, 0) + n
    assert counters["http.codes.200"] == 4, counters
    assert counters["vusers.completed"] == 4


def test_a_symlinked_plan_and_payload_are_bundled_as_the_plan_names_them(
    tmp_path: Path, server: ServerThread, monkeypatch
) -> None:
    """The plan is a link into another folder, its payload a link beside it: the bundle
    keeps the names the plan uses (the links'), so the unpacked plan finds its files."""
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "project"
    (elsewhere / "data").mkdir(parents=True)
    (home / "plans").mkdir(parents=True)
    (elsewhere / "spike.yml").write_text(
        "config:\n"
        f"  target: {server.url}\n"
        "  phases: [{duration: 1, arrivalCount: 2}]\n"
        "  payload: {path: users.csv, fields: [name], order: sequence}\n"
        "  processor: ./hooks.py\n"
        "scenarios:\n"
        "  - flow:\n"
        "      - function: sign\n"
        '      - get: {url: "/echo?who={{ name }}&sig={{ sig }}"}\n',
        encoding="utf-8",
    )
    (elsewhere / "data" / "users.csv").write_text("ada\nbob\n", encoding="utf-8")
    (elsewhere / "hooks.py").write_text(
        "def sign(context, events=None, done=None):\n    context.vars['sig'] = 'ok'\n",
        encoding="utf-8",
    )
    (home / "plans" / "spike.yml").symlink_to(elsewhere / "spike.yml")
    (home / "plans" / "users.csv").symlink_to(elsewhere / "data" / "users.csv")
    (home / "plans" / "hooks.py").symlink_to(elsewhere / "hooks.py")
    monkeypatch.chdir(home)
    options = PlanOptions(allow_paths=(str(elsewhere),))
    plan = load_plan("plans/spike.yml", options)

    bundle = pickle.loads(pickle.dumps(Bundle.of(plan, "plans/spike.yml", options)))
    assert sorted(name for name, _ in bundle.files) == [
        "hooks.py",
        "spike.yml",
        "users.csv",
    ]
    shutil.rmtree(home)
    shutil.rmtree(elsewhere)
    monkeypatch.chdir(tmp_path)
    job = ShardJob(bundle.plan, options, RunOptions(seed=2), time.time() + 0.2, bundle)
    result = decode_result(run_shard(job))
    counters: dict[str, int] = {}
    for period in result.periods:
        for name, n in period.metrics.counters.items():
            counters[name] = counters.get(name, 0) + n
    assert counters.get("http.codes.200") == 2, counters


def test_a_templated_formdata_path_is_refused_for_dask_before_any_request(
    tmp_path: Path,
) -> None:
    """A shard reads files only from the folder its bundle was unpacked into, and a path
    rendered during the run cannot be bundled: --dask says so before any traffic."""
    import pytest

    from yamlload.errors import UsageError

    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    plan_path = tmp_path / "plan.yml"
    plan_path.write_text(
        "config:\n"
        "  target: http://127.0.0.1:9\n"
        "  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  variables: {name: [a]}\n"
        "scenarios:\n"
        "  - flow:\n"
        '      - post: {url: /, formData: {doc: {fromFile: "./{{ name }}.txt"}}}\n',
        encoding="utf-8",
    )
    plan = load_plan(str(plan_path), PlanOptions())
    with pytest.raises(UsageError, match=r"formData path built from a template.*--dask"):
        Bundle.of(plan, str(plan_path), PlanOptions())
