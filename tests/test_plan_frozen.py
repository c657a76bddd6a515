"""The plan IR is frozen data: its document cannot be changed through it, and the
secret values its outputs mask are found once, when it is compiled."""

from __future__ import annotations

import base64
from pathlib import Path

from yamlload import PlanOptions, load_plan
from yamlload.plan.secrets import MASK, Redactor

PLAN = """\
config:
  target: http://user:hunter22@127.0.0.1:1
  secrets: [API_TOKEN, password]
  variables:
    password: s3cret-var
  defaults:
    headers:
      authorization: "Bearer lit-token-1234"
      x-key: "{{ $env.KEY }}"
scenarios:
  - flow: [{get: {url: /}}]
"""
ENV = {"API_TOKEN": "token-from-env", "KEY": "key-env-9090", "UNUSED": "not-a-secret"}


def test_the_secret_values_are_in_the_plan(write_plan) -> None:
    plan = load_plan(str(write_plan(PLAN)), PlanOptions(env=tuple(ENV.items())))
    basic = base64.b64encode(b"user:hunter22").decode()  # sent for the target's password
    expected = {"token-from-env", "key-env-9090", "s3cret-var", "lit-token-1234", "hunter22", basic}
    assert plan.secret_values == expected
    assert "secret_values=" not in repr(plan)  # a set of secrets is not for printing
    redactor = Redactor.for_plan(plan)
    assert redactor.text("token-from-env s3cret-var not-a-secret") == f"{MASK} {MASK} not-a-secret"


def test_the_document_cannot_be_changed_through_the_plan(write_plan, tmp_path: Path) -> None:
    plan = load_plan(str(write_plan(PLAN)), PlanOptions(env=tuple(ENV.items())))
    document = plan.raw
    assert document["config"]["variables"] == {"password": "s3cret-var"}
    document["config"]["variables"]["password"] = "changed"
    assert plan.raw["config"]["variables"]["password"] == "s3cret-var"
