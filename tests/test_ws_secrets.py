"""A bearer token carried as a WebSocket subprotocol (Kubernetes' style, or after an
`access_token` marker) is a secret: masked in the report's plan and in every output,
while a protocol's plain name stays readable (issue 19, attacker review M2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import run_cli
from tests.servers import ServerThread
from tests.ws_servers import make_ws_app
from yamlload.plan.secrets import MASK

K8S_TOKEN = "base64url.bearer.authorization.k8s.io.SEKRETsub1x9"
HEADER_TOKEN = "SEKRETSUB2"  # short: a token for following its marker


def test_a_token_in_subprotocols_is_masked_and_a_protocol_name_is_not(
    write_plan: Any, tmp_path: Path
) -> None:
    with ServerThread(make_ws_app()) as server:
        target = server.url.replace("http://", "ws://")
        plan = write_plan(
            f"""\
config:
  target: {target}
  phases: [{{duration: 1, arrivalCount: 1}}]
  ws:
    subprotocols: ["{K8S_TOKEN}", "chat"]
scenarios:
  - engine: ws
    flow:
      - connect:
          target: /echo
          headers: {{Sec-WebSocket-Protocol: "access_token, {HEADER_TOKEN}"}}
      - send: hello
"""
        )
        report = tmp_path / "r.json"
        result = run_cli("run", str(plan), "-o", str(report), "--html", str(tmp_path / "r.html"))
    outputs = [
        result.stdout,
        result.stderr,
        report.read_text(encoding="utf-8"),
        (tmp_path / "r.html").read_text(encoding="utf-8"),
    ]
    for text in outputs:
        assert "SEKRET" not in text
    ws = json.loads(outputs[2])["plan"]["document"]["config"]["ws"]
    assert ws["subprotocols"] == [MASK, "chat"]
