"""Secrets never reach an output: the console, `log:` lines, and every report format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.servers import ServerThread
from yamlload import PlanOptions, load_plan
from yamlload.plan.secrets import MASK, Redactor

# What goes on the wire and how it is counted: checked on both transports.
pytestmark = pytest.mark.both_transports

ENV = {"API_KEY": "key-env-5555", "LOGIN_USER": "alice-secret-user"}
SECRETS = [
    "tok-alpha-111",  # a config.variables value named in config.secrets
    "literal-bearer-9999",  # a literal Authorization header
    "cookie-value-4242",  # a literal cookie
    "pw-basic-7777",  # a basic-auth password
    *ENV.values(),  # values read through $env
    "tok-alice-secret-user",  # captured at run time into a variable named in config.secrets
]

PLAN = """\
config:
  target: http://{host}
  phases: [{{duration: 1, arrivalCount: 2, name: "ramp cookie-value-4242"}}]
  secrets: [token, SESSION_ID]
  variables:
    token: [tok-alpha-111]
  defaults:
    headers:
      Authorization: Bearer literal-bearer-9999
      x-api-key: "{{{{ $env.API_KEY }}}}"
    cookie:
      session: cookie-value-4242
scenarios:
  - name: "shoppers key-env-5555"
    flow:
      - post:
          url: /login
          json: {{username: "{{{{ $env.LOGIN_USER }}}}"}}
          capture: {{json: "$.token", as: SESSION_ID}}
      - get: {{url: /me, headers: {{authorization: "Bearer {{{{ SESSION_ID }}}}"}}}}
      - get: {{url: /protected, auth: {{user: leo, pass: pw-basic-7777}}}}
      - log: "token={{{{ token }}}} key={{{{ $env.API_KEY }}}} session={{{{ SESSION_ID }}}} bearer=literal-bearer-9999"
      - get: {{url: "/echo?k={{{{ $env.API_KEY }}}}", expect: [{{statusCode: 201}}]}}
      # a label that holds a secret: a literal in the URL, and a secret name
      - get: {{url: /items/literal-bearer-9999}}
      - get: {{url: /ok, name: "ok pw-basic-7777"}}
"""


def test_no_secret_reaches_any_output(server: ServerThread, tmp_path: Path) -> None:
    plan = tmp_path / "secret.yml"
    plan.write_text(PLAN.format(host=server.url.removeprefix("http://")))
    outputs = {name: tmp_path / name for name in ("r.json", "r.html", "r.xml", "r.md")}
    result = run_cli(
        "run",
        str(plan),
        "-o",
        str(outputs["r.json"]),
        "--html",
        str(outputs["r.html"]),
        "--junit",
        str(outputs["r.xml"]),
        "--summary-md",
        str(outputs["r.md"]),
        "--csv",
        str(tmp_path / "r"),
        "--ensure",
        "http.codes.200 > 0",
        env=ENV,
    )
    # the flow really ran: logged in, the log step printed, the expect failed and said so
    # (a failed expectation fails the run, as with Artillery's expect plugin: exit 1)
    assert result.exit_code == 1, result.stderr
    assert f"token={MASK} key={MASK} session={MASK} bearer={MASK}" in result.stdout
    assert "expect statusCode" in result.stdout
    assert server.hits().get("GET /me", 0) >= 2
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    texts.update(
        {path.name: path.read_text() for path in tmp_path.iterdir() if path.suffix != ".yml"}
    )
    assert {"r.json", "r.html", "r.xml", "r.md", "r-periods.csv", "r-endpoints.csv"} <= set(texts)
    for where, text in texts.items():
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{where} shows {leaked}"
    assert f'"Authorization": "{MASK}"' in texts["r.json"]


USERINFO_PLAN = """\
config:
  target: http://leo:hunter22@{host}
  phases: [{{duration: 1, arrivalCount: 1}}]
scenarios:
  - flow: [{{get: {{url: /ok}}}}]
"""


def test_the_password_in_a_target_url_is_masked(server: ServerThread, tmp_path: Path) -> None:
    plan = tmp_path / "userinfo.yml"
    plan.write_text(USERINFO_PLAN.format(host=server.url.removeprefix("http://")))
    report = tmp_path / "r.json"
    result = run_cli("run", str(plan), "-o", str(report), "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.stderr
    assert f"http://leo:{MASK}@127.0.0.1" in result.stdout
    for text in (
        result.stdout,
        result.stderr,
        report.read_text(),
        (tmp_path / "r.html").read_text(),
    ):
        assert "hunter22" not in text
    checked = run_cli("validate", str(plan))
    assert checked.exit_code == 0, checked.stderr
    assert "hunter22" not in checked.stdout + checked.stderr
    assert f"leo:{MASK}@127.0.0.1" in checked.stdout


def test_redactor_masks_longest_first_and_leaves_short_values() -> None:
    redactor = Redactor(["abcd", "abcdefgh", "xy"])
    assert redactor.text("abcdefgh abcd xy") == f"{MASK} {MASK} xy"
    assert redactor.text("user abcdefgh-ghij", extra=["ghij"]) == f"user {MASK}-{MASK}"


def test_redactor_document_masks_credentials_by_key() -> None:
    doc = {
        "config": {
            "defaults": {
                "headers": {"Cookie": "a=b", "Accept": "text/plain"},
                "cookie": {"sid": "zz"},
            }
        },
        "scenarios": [
            {
                "flow": [
                    {
                        "get": {
                            "auth": {"user": "u", "pass": "p"},
                            "headers": {"Authorization": "Bearer {{ t }}"},
                        }
                    }
                ]
            }
        ],
    }
    masked = Redactor().document(doc)
    headers = masked["config"]["defaults"]["headers"]
    assert headers == {"Cookie": MASK, "Accept": "text/plain"}
    assert masked["config"]["defaults"]["cookie"] == {"sid": MASK}
    request = masked["scenarios"][0]["flow"][0]["get"]
    assert request["auth"] == {"user": "u", "pass": MASK}
    assert request["headers"]["Authorization"] == MASK
    assert doc["config"]["defaults"]["headers"]["Cookie"] == "a=b"  # a copy; the plan is untouched


def test_a_publish_metrics_api_key_written_in_the_plan_is_masked(tmp_path: Path) -> None:
    """A reporter's literal `apiKey` (Datadog, New Relic) is a credential: masked in the
    plan the report echoes, and wherever else it would show."""
    plan_path = tmp_path / "p.yml"
    plan_path.write_text(
        "config:\n  target: http://127.0.0.1:9\n  phases: [{duration: 1, arrivalCount: 1}]\n"
        "  plugins:\n    publish-metrics:\n      - {type: datadog, apiKey: dd-literal-key-123}\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n",
        encoding="utf-8",
    )
    plan = load_plan(str(plan_path), PlanOptions())
    redactor = Redactor.for_plan(plan)
    echoed = redactor.document(plan.raw)["config"]["plugins"]["publish-metrics"][0]
    assert echoed["apiKey"] == MASK
    assert redactor.text("key=dd-literal-key-123") == f"key={MASK}"


def test_env_values_in_target_and_phases_stay_visible(tmp_path: Path) -> None:
    """Where and how much load goes is shown as is; the same env in a header is masked."""
    plan = tmp_path / "env.yml"
    plan.write_text(
        "config:\n  target: '{{ $env.TARGET }}'\n"
        "  phases: [{duration: 2, arrivalRate: '{{ $env.RATE }}'}]\n"
        "  defaults: {headers: {x-key: '{{ $env.KEY }}'}}\n"
        "scenarios:\n  - flow: [{get: {url: /}}]\n"
    )
    env = {"TARGET": "http://127.0.0.1:8200", "RATE": "1000", "KEY": "key-env-9090"}
    result = run_cli("validate", str(plan), env=env)
    assert result.exit_code == 0, result.stderr
    assert "http://127.0.0.1:8200" in result.stdout
    assert "2000 arrivals" in result.stdout.replace(",", "")
    redactor = Redactor.for_plan(load_plan(str(plan), PlanOptions(env=env)))
    assert (
        redactor.text("key-env-9090 at http://127.0.0.1:8200, 1000/s")
        == f"{MASK} at http://127.0.0.1:8200, 1000/s"
    )


def test_a_secret_in_a_query_is_masked_as_aiohttp_encodes_it(
    server: ServerThread, tmp_path: Path
) -> None:
    """yarl keeps `/` in a query value and writes a space as `+`: that form is masked too,
    in the --debug line and in a failure's body."""
    plan = tmp_path / "plan.yml"
    plan.write_text(
        f"config:\n  target: {server.url}\n  phases: [{{duration: 1, arrivalCount: 1}}]\n"
        "  http: {expectedStatuses: [299]}\n"
        "scenarios:\n  - flow:\n      - get: {url: '/echo?key={{ $env.API_KEY }}'}\n",
        encoding="utf-8",
    )
    result = run_cli(
        "run", str(plan), "--debug", "-o", str(tmp_path / "r.json"), env={"API_KEY": "abc/def ghi"}
    )
    shown = result.stdout + result.stderr + (tmp_path / "r.json").read_text(encoding="utf-8")
    assert "GET /echo" in shown or "/echo?key=" in shown
    for form in ("abc/def+ghi", "abc/def%20ghi", "abc%2Fdef", "abc/def ghi"):
        assert form not in shown, form


def test_the_basic_token_of_the_target_password_is_masked() -> None:
    import base64

    redactor = Redactor(secret_values_for("http://tuser:tgtPass9@127.0.0.1:9"))
    token = base64.b64encode(b"tuser:tgtPass9").decode()
    assert (
        redactor.text(f'{{"Authorization": "Basic {token}"}}') == '{"Authorization": "Basic ***"}'
    )


def secret_values_for(target: str) -> frozenset[str]:
    from yamlload.plan.secrets import secret_values

    return secret_values({}, {}, (), target)


def test_a_target_password_is_masked_however_the_url_is_written(tmp_path: Path) -> None:
    for target in ("tuser:tgtPass9@127.0.0.1:9", "http://tuser:tgt/Pass9@127.0.0.1:9"):
        plan = tmp_path / "plan.yml"
        plan.write_text(
            f"config:\n  target: '{target}'\n  phases: [{{duration: 1, arrivalCount: 1}}]\n"
            "scenarios:\n  - flow: [{get: {url: /}}]\n",
            encoding="utf-8",
        )
        shown = run_cli("validate", str(plan))
        text = shown.stdout + shown.stderr
        assert "tgtPass9" not in text and "tgt/Pass9" not in text, text
