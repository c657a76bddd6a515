"""One request step for a user, start to end: skip it (ifTrue, probability), build it,
run beforeRequest hooks, send it (send.py), then expectDefault200, captures, checks and
afterResponse hooks on the final response. Each piece lives in a module of its own;
this one decides the order, and whether the user goes on."""

from __future__ import annotations

from ...metrics.names import ERRORS
from ...metrics.periods import Recorder
from ...plan.ir import Plan, Request
from ..hooks import HookResponse, Hooks
from ..log import RunLog, exception_text
from ..vuser import User
from .accept import DEFAULT_ACCEPTED, status_ranges
from .build import BUILD_ERRORS, Builder, InvalidHeader
from .checks import Checked, Checks
from .errors import BODY_TOO_LARGE, FILE_PATH, INVALID_HEADER, INVALID_REQUEST, os_code
from .facts import RequestFacts, learn
from .form import FilePathError, read_form_files
from .send import Sender
from .transport import Answer, Spec


class HttpClient(Sender):
    """Sends request steps and records what happened. Every attempt ends in exactly one
    outcome, counted in the period where it ends: a response, a request error, or an
    interruption."""

    def __init__(self, plan: Plan, recorder: Recorder, log: RunLog, hooks: Hooks) -> None:
        super().__init__(
            recorder, log, plan.apdex_threshold_ms, plan.http.extended_metrics, plan.secrets
        )
        self.plan = plan
        self.hooks = hooks
        self.builder = Builder(plan, log)
        self.checks = Checks(recorder, log, plan.expect_stop_user)
        self.max_body = plan.http.max_body_bytes
        self._default_accepted = status_ranges(plan.http.expected_statuses or DEFAULT_ACCEPTED)
        # Request objects live as long as the plan, so their ids are stable keys.
        self._facts: dict[int, RequestFacts] = {}

    def facts(self, request: Request) -> RequestFacts:
        facts = self._facts.get(id(request))
        if facts is None:
            facts = self._facts[id(request)] = learn(request, self.plan, self._default_accepted)
        return facts

    @property
    def _constant_specs(self) -> dict[int, Spec | None]:
        """The specs built once, by request id (None: built per send); tests read it."""
        return {key: facts.spec for key, facts in self._facts.items()}

    async def send(self, request: Request, user: User) -> bool:
        """One request step; False when the user must stop as failed."""
        if request.if_true is not None and not request.if_true.evaluate(user.lookup):
            return True
        if request.probability is not None and user.rng.random() * 100 >= request.probability:
            return True
        facts = self._facts.get(id(request)) or self.facts(request)
        scenario = user.scenario
        hooked = scenario.before_request or request.before_request
        try:
            spec = self.spec(request, facts, user, bool(hooked))
            if facts.uploads:
                await self.read_form_files(spec)
            if facts.sets_cookies:
                user.session.add_cookies(self.builder.cookies(request, user), spec["url"])
        except BUILD_ERRORS as exc:
            # The request could not be made from what the user holds: a request error
            # of its own, named, that never reached the wire.
            return self.unsendable(request, facts, user, exc)
        if hooked:
            before = (*scenario.before_request, *request.before_request)
            if not await self.hooks.call_all(before, user, spec):
                return False
        reads_body = facts.reads_body or bool(scenario.after_response)
        keep = self.max_body if reads_body else 0
        answer = await self.exchange(request, facts, spec, user, keep)
        if answer is None:
            return False
        if facts.expects_200 and not self.checks.expect_200(request, user, answer):
            return False
        if not reads_body:
            return True
        return await self.use_answer(request, spec, user, answer, keep)

    def spec(self, request: Request, facts: RequestFacts, user: User, hooked: bool) -> Spec:
        """The request's Spec. A constant one is built once and reused (the transport
        copies what it keeps), unless hooks may edit it."""
        if hooked or not facts.constant:
            return self.builder.build(request, user)
        if facts.spec is None:
            facts.spec = self.builder.build(request, user)
        return facts.spec

    async def read_form_files(self, spec: Spec) -> None:
        """Read a formData request's files off the event loop (see form.py)."""
        await read_form_files(spec)

    def unsendable(
        self, request: Request, facts: RequestFacts, user: User, exc: BaseException
    ) -> bool:
        """A request its user's values could not make (a header with a line break, an
        unreadable file, a character no encoding takes): counted, named, never sent."""
        if isinstance(exc, InvalidHeader):
            code = INVALID_HEADER
            detail = f"header {exc.name!r} holds a control character; the request was not sent"
        elif isinstance(exc, FilePathError):
            code, detail = FILE_PATH, exception_text(exc)
        elif isinstance(exc, OSError):
            code, detail = os_code(exc), exception_text(exc)
        else:
            code, detail = INVALID_REQUEST, exception_text(exc)
        self.record_unsent(facts, code)
        self.log.failure(code, user, request, detail)
        return False

    async def use_answer(
        self, request: Request, spec: Spec, user: User, answer: Answer, keep: int
    ) -> bool:
        """Captures, matches, expectations and response hooks on the final response."""
        if answer.body is None:
            self.rec.count(ERRORS + BODY_TOO_LARGE)
            self.log.failure(
                BODY_TOO_LARGE,
                user,
                request,
                f"the body was {answer.size:,} bytes, over config.http.maxBodyBytes ({keep:,}); "
                "its captures and checks fail",
            )
            return False
        checked = Checked(answer.status, answer.headers, answer.body)
        if not self.checks.capture(request, checked, user):
            return False
        if not self.checks.expect(request, checked, user):
            return False
        after = (*request.after_response, *user.scenario.after_response)
        return not after or await self.hooks.call_all(
            after, user, spec, HookResponse(answer.status, answer.headers, answer.body)
        )
