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
