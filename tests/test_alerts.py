"""Alerts (issue 17): `--alert-webhook URL` and config.alerts (webhooks, email). Checks
are judged on the run so far once a period; a check that starts failing sends one
alert, one that passes again a recovery, and the run's end a final message with the
verdict. Receivers run on 127.0.0.1 (an aiohttp webhook, an aiosmtpd SMTP server); an
unreachable one changes none of the run's numbers nor its exit code. The period is
shortened to a second here (a module constant); no wall-clock time is asserted."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers import run_cli
from tests.servers import ServerThread, free_port, make_test_app
from yamlload.live import alerts
from yamlload.live import alerts as alerts_module
from yamlload.live.alerts import Alerts

RECEIVED = web.AppKey("received", list)
SERVED = web.AppKey("served", dict)
# /flaky's first requests that fail: at 10 a second, failing for the first 2-3 s of a
# run judged with error_rate<50%, passing from about 4 s on.
FLAKY_FAILURES = 15


@pytest.fixture(autouse=True)
def one_second_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "ALERT_PERIOD_SECONDS", 1.0)


def receiver_app() -> web.Application:
    """A Slack-like webhook (POST /hook), and a target whose first FLAKY_FAILURES get
    a 500 and the rest a 200 (GET /flaky), so a check fails, then recovers."""
    app = make_test_app()
    app[RECEIVED] = []
    app[SERVED] = {"n": 0}

    async def hook(request: web.Request) -> web.Response:
        request.app[RECEIVED].append(await request.json())
        return web.Response(text="ok")

    async def flaky(request: web.Request) -> web.Response:
        request.app[SERVED]["n"] += 1
        return web.Response(status=500 if request.app[SERVED]["n"] <= FLAKY_FAILURES else 200)

    app.router.add_post("/hook", hook)
    app.router.add_get("/flaky", flaky)
    return app


@pytest.fixture
def receiver() -> Iterator[ServerThread]:
    with ServerThread(receiver_app()) as running:
        yield running


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def plan_text(target: str, url: str, seconds: int = 3, rate: int = 10, extra: str = "") -> str:
    return (
        f"config:\n  target: {target}\n"
        f"  phases: [{{duration: {seconds}, arrivalRate: {rate}}}]\n"
        + extra
        + f"scenarios:\n  - flow: [{{get: {{url: {url}}}}}]\n"
    )


def run_report(
    write_plan: Any, tmp_path: Path, text: str, *flags: str
) -> tuple[int, dict[str, Any], str]:
    plan = write_plan(text)
    out = tmp_path / "report.json"
    result = run_cli("run", str(plan), "-q", "-o", str(out), *flags)
    report = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, report, result.stderr


def texts(receiver: ServerThread) -> list[str]:
    assert receiver.app is not None
    return [body["text"] for body in receiver.app[RECEIVED]]


def test_a_failing_check_alerts_once_and_the_end_tells_the_verdict(
    receiver: ServerThread, write_plan: Any, tmp_path: Path
) -> None:
    code, report, _ = run_report(
        write_plan,
        tmp_path,
        plan_text(receiver.url, "/status/500", seconds=3),
        "--ensure",
        "error_rate<1%",
        "--alert-webhook",
        f"{receiver.url}/hook",
    )
    assert code == 1
    got = texts(receiver)
    failing = [t for t in got if t.startswith("yamlload: check failing:")]
    assert len(failing) == 1, got
    assert "error_rate<1%" in failing[0] and "100.00%" in failing[0] and "< 1%" in failing[0]
    assert "plan.yml" in failing[0] and "into the run" in failing[0]
    assert got[-1].startswith("yamlload: FAIL: ") and "error_rate<1%" in got[-1]
    assert report["aggregate"]["counters"].get("yamlload.alert_errors", 0) == 0
    # what was delivered is counted too: every message the receiver got
    assert report["aggregate"]["counters"]["yamlload.alerts_sent"] == len(got)


def test_a_check_that_passes_again_sends_a_recovery(
    receiver: ServerThread, write_plan: Any, tmp_path: Path
) -> None:
    code, _, _ = run_report(
        write_plan,
        tmp_path,
        plan_text(receiver.url, "/flaky", seconds=6, rate=10),
        "--ensure",
        "error_rate<50%",
        "--alert-webhook",
        f"{receiver.url}/hook",
    )
    assert code == 0
    got = texts(receiver)
    kinds = [t.split(":")[1].strip() for t in got]
    assert kinds == ["check failing", "check recovered", "PASS"], got
    assert got[-1].startswith("yamlload: PASS: ")


def test_alerts_in_the_plan_by_email_and_webhook(
    receiver: ServerThread, smtp: tuple[int, Inbox], write_plan: Any, tmp_path: Path
) -> None:
    port, inbox = smtp
    target = receiver.url.replace("http://", "http://leo:hunter22@")
    extra = (
        "  alerts:\n"
        f"    - webhook: {receiver.url}/hook\n"
        "    - email:\n"
        "        to: [team@example.com]\n"
        "        from: perf@example.com\n"
        f"        smtp: {{host: 127.0.0.1, port: {port}}}\n"
        "  ensure:\n    thresholds:\n      - vusers.failed: 1\n"
    )
    code, _, _ = run_report(
        write_plan,
        tmp_path,
        plan_text(target, "/status/500", seconds=2, extra=extra),
        "--ensure",
        "error_rate<1%",
    )
    assert code == 1
    assert len(inbox.messages) == 2  # the failing check, and the end
    sender, recipients, content = inbox.messages[0]
    assert sender == "perf@example.com" and recipients == ["team@example.com"]
    assert "yamlload: check failing: error_rate<1%" in content
    assert "Subject: yamlload:" in content
    assert all("hunter22" not in m[2] for m in inbox.messages)
    assert all("hunter22" not in t for t in texts(receiver))
    assert len(texts(receiver)) == 2


def test_an_unreachable_webhook_changes_nothing_but_is_counted_and_told(
    receiver: ServerThread, write_plan: Any, tmp_path: Path
) -> None:
    text = plan_text(receiver.url, "/ok", seconds=2, rate=5)
    plain_code, plain, _ = run_report(write_plan, tmp_path, text, "--ensure", "p99<1ms")
    dead = f"http://127.0.0.1:{free_port()}/hook"
    code, report, output = run_report(
        write_plan, tmp_path, text, "--ensure", "p99<1ms", "--alert-webhook", dead
    )
    assert code == plain_code == 1
    counters = report["aggregate"]["counters"]
    assert counters["http.requests"] == plain["aggregate"]["counters"]["http.requests"] == 10
    assert counters["yamlload.alert_errors"] >= 2  # the failing check's alert, the end's
    assert output.count("alert to webhook 127.0.0.1") == 1


def test_alerts_in_the_plan_are_checked(write_plan: Any) -> None:
    extra = "  alerts:\n    - email: {to: [], from: perf@example.com, smtp: {host: h}}\n    - pager: x\n"
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", seconds=1, rate=1, extra=extra))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 2
    assert "config.alerts[0].email.to" in result.output + result.stderr
    assert "config.alerts[1]" in result.output + result.stderr


def test_alerts_are_refused_when_the_run_is_split(write_plan: Any) -> None:
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", seconds=1, rate=1))
    result = run_cli("run", str(plan), "--alert-webhook", "http://127.0.0.1:1/x", "--workers", "2")
    assert result.exit_code == 2
    assert "--alert-webhook needs the run in one process" in result.stderr


SMTP_USER, SMTP_PASSWORD = "perf", "s3cret-smtp-pass"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def test_email_over_starttls_with_a_login(
    receiver: ServerThread, write_plan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    monkeypatch.setattr(alerts, "tls_context", lambda: client_tls)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=check_login,
        auth_require_tls=True,
    )
    controller.start()
    extra = (
        "  alerts:\n    - email:\n        to: [team@example.com]\n        from: perf@example.com\n"
        f"        smtp: {{host: 127.0.0.1, port: {port}, starttls: true, "
        'username: perf, password: "{{ $env.SMTP_PASSWORD }}"}\n'
    )
    plan = write_plan(plan_text(receiver.url, "/status/500", seconds=2, extra=extra))
    out = tmp_path / "report.json"
    try:
        result = run_cli(
            "run",
            str(plan),
            "-q",
            "-o",
            str(out),
            "--ensure",
            "error_rate<1%",
            env={"SMTP_PASSWORD": SMTP_PASSWORD},
        )
    finally:
        controller.stop()
    assert result.exit_code == 1, result.stderr
    assert "alert to" not in result.stderr
    assert len(inbox.messages) == 2
    assert "yamlload: FAIL: " in inbox.messages[-1][2]
    assert SMTP_PASSWORD not in out.read_text()


def test_the_final_message_says_a_failing_check_stopped_the_run(
    receiver: ServerThread, write_plan: Any, tmp_path: Path
) -> None:
    code, report, _ = run_report(
        write_plan,
        tmp_path,
        plan_text(receiver.url, "/status/500", seconds=30),
        "--ensure",
        "error_rate<1%",
        "--abort-on-fail",
        "--abort-delay",
        "1s",
        "--alert-webhook",
        f"{receiver.url}/hook",
    )
    assert code == 1
    assert report["run"]["stoppedBy"].startswith("abort: error_rate<1% failed")
    final = texts(receiver)[-1]
    assert final.startswith("yamlload: FAIL: ")
    assert "stopped by abort: error_rate<1% failed (100.00%)" in final


def test_validate_names_each_alert_and_never_a_webhook_token(write_plan: Any) -> None:
    extra = (
        "  alerts:\n"
        "    - webhook: https://hooks.slack.com/services/T000/B000/XXXXTOKEN\n"
        "    - email: {to: [team@example.com], from: perf@example.com, smtp: {host: smtp.x}}\n"
    )
    plan = write_plan(plan_text("http://127.0.0.1:1", "/ok", seconds=1, rate=1, extra=extra))
    result = run_cli("validate", str(plan))
    assert result.exit_code == 0
    assert (
        "  alerts     webhook hooks.slack.com, email to team@example.com via smtp.x:587"
        in result.output
    )
    assert "XXXXTOKEN" not in result.output


class StuckChannel:
    """A channel whose every send hangs until released (a webhook that accepted the
    connection and never answers)."""

    name = "webhook stuck.example"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, text: str) -> None:
        self.release.wait(30)
        self.sent.append(text)


class KeptChannel:
    name = "webhook kept.example"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> None:
        self.sent.append(text)


def finish_in_a_thread(watcher: Alerts, interrupted: Any = lambda: False) -> threading.Thread:
    done = threading.Thread(
        target=watcher.final, args=("the end",), kwargs={"interrupted": interrupted}
    )
    done.start()
    done.join(30)  # a bound for a broken build, not a measured time
    return done


def test_the_end_waits_once_for_every_unsent_alert_and_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stuck channel holds neither the others nor the end past END_WAIT_SECONDS: the
    live alert and the final one it never sent are counted, the kept channel got both."""
    monkeypatch.setattr(alerts_module, "END_WAIT_SECONDS", 0.2)
    stuck, kept = StuckChannel(), KeptChannel()
    said: list[str] = []
    watcher = Alerts([stuck, kept], [], "plan.yml", lambda text: text, said.append)
    watcher.post("check failing")
    done = finish_in_a_thread(watcher)
    assert not done.is_alive()
    assert kept.sent == ["check failing", "the end"]
    assert watcher.errors == 2  # both messages to the stuck channel
    assert len(said) == 1 and "webhook stuck.example" in said[0]
    stuck.release.set()


def test_a_signal_during_the_end_cuts_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts_module, "END_WAIT_SECONDS", 3600.0)
    stuck = StuckChannel()
    watcher = Alerts([stuck], [], "plan.yml", lambda text: text, lambda _: None)
    done = finish_in_a_thread(watcher, interrupted=lambda: True)
    assert not done.is_alive()
    assert watcher.errors == 1
    stuck.release.set()


def test_an_email_subject_is_cut_at_a_word() -> None:
    text = "yamlload: FAILED: plans/checkout.yml against http://127.0.0.1:8080 " + "x" * 200
    subject = alerts_module.subject_of(text)
    assert len(subject) <= alerts_module.SUBJECT_CHARS
    # the long last word is left out whole, not cut; the port is kept whole
    assert subject == "yamlload: FAILED: plans/checkout.yml against http://127.0.0.1:8080 …"


def test_two_emails_through_one_server_are_told_apart() -> None:
    from yamlload.plan.ir import Alert, Smtp

    smtp = Smtp(host="127.0.0.1", port=8025, starttls=False)
    channels = alerts_module.channels_for(
        [
            Alert(to=("a@example.com",), sender="p@example.com", smtp=smtp),
            Alert(to=("b@example.com",), sender="p@example.com", smtp=smtp),
        ],
        [],
    )
    assert [c.name for c in channels] == [
        "email to a@example.com via 127.0.0.1:8025",
        "email to b@example.com via 127.0.0.1:8025",
    ]


def hostile_hooks_app() -> web.Application:
    """Webhooks that answer a redirect, and one whose answer never ends."""
    app = make_test_app()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"x" * 65536
        for _ in range(100_000):  # 6.5 GB if read whole
            await response.write(chunk)
        return response

    app.router.add_post("/moved", moved)
    app.router.add_post("/endless", endless)
    return app


def test_a_webhook_that_redirects_is_a_failure_and_one_that_never_ends_is_cut() -> None:
    """A 302 was followed as a GET without the message and counted as delivered; an
    answer that never ends was read whole (gigabytes) into memory."""
    with ServerThread(hostile_hooks_app()) as hooks:
        moved = alerts_module.Webhook(f"{hooks.url}/moved")
        with pytest.raises(Exception, match="302"):
            moved.send("hello")
        endless = alerts_module.Webhook(f"{hooks.url}/endless")
        sent = threading.Thread(target=endless.send, args=("hello",), daemon=True)
        sent.start()
        sent.join(30)  # a bound for a broken build, not a measured time
        assert not sent.is_alive()  # it read a bounded part of the answer, and let go


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://hookuser:PlanPa55wd@127.0.0.1:9/services/x", "PlanPa55wd"),
        ("http://127.0.0.1:9/services/T000/B000/SECRET TOKEN4", "SECRET"),
        ("http://127.0.0.1:9/services/T000/B000/SECRET\tTOKEN4", "SECRET"),
    ],
)
def test_a_webhook_url_that_cannot_be_sent_to_is_refused_without_its_token(
    write_plan: Any, url: str, secret: str
) -> None:
    plan = write_plan(plan_text("http://127.0.0.1:9", "/"))
    result = run_cli("run", str(plan), "--alert-webhook", url)
    assert result.exit_code == 2, result.stderr
    assert "--alert-webhook" in result.stderr and secret not in result.stderr
    in_plan = write_plan(
        plan_text("http://127.0.0.1:9", "/", extra=f"  alerts:\n    - webhook: {json.dumps(url)}\n")
    )
    result = run_cli("validate", str(in_plan))
    assert result.exit_code == 2, result.output
    assert "config.alerts[0].webhook" in result.output and secret not in result.output


def echoing_smtp(conn: Any) -> None:
    """An SMTP server that refuses a login by echoing the AUTH line back (the credentials
    base64-encoded in it)."""
    file = conn.makefile("rwb")
    file.write(b"220 hostile ESMTP\r\n")
    file.flush()
    for line in file:
        if line.upper().startswith(b"EHLO"):
            file.write(b"250-hostile\r\n250 AUTH PLAIN\r\n")
        elif line.upper().startswith(b"AUTH"):
            file.write(b"535 no: " + line.strip() + b"\r\n")
        else:
            file.write(b"221 bye\r\n")
            file.flush()
            break
        file.flush()
    conn.close()


def test_an_smtp_server_that_echoes_the_login_never_shows_the_password() -> None:
    import base64

    from tests.servers import raw_tcp_server
    from yamlload.plan.ir import Alert, Smtp

    with raw_tcp_server(echoing_smtp) as url:
        port = int(url.rpartition(":")[2])
        smtp = Smtp(
            host="127.0.0.1", port=port, starttls=False, username="alice", password="Sup3rS3cret!"
        )
        email = alerts_module.Email(Alert(to=("t@example.com",), sender="p@example.com", smtp=smtp))
        with pytest.raises(Exception) as caught:
            email.send("hello")
    said = str(caught.value)
    blob = base64.b64encode(b"\0alice\0Sup3rS3cret!").decode()
    assert "535" in said
    assert blob not in said and "Sup3rS3cret!" not in said
    assert base64.b64encode(b"Sup3rS3cret!").decode() not in said


def test_one_address_may_be_written_without_a_list(write_plan: Any) -> None:
    from yamlload.plan.compile import load_plan

    extra = "  alerts:\n    - email: {to: team@example.com, from: p@example.com, smtp: {host: h}}\n"
    plan = load_plan(str(write_plan(plan_text("http://127.0.0.1:1", "/ok", 1, 1, extra))))
    assert plan.alerts[0].to == ("team@example.com",)
