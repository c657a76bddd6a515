"""The plan's processor: its module, what its hooks receive, and calling them. A hook
that raises fails its user (`errors.EPROCESSOR`), never the run."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import UsageError
from ..metrics.names import ERRORS
from ..metrics.periods import Recorder
from .log import RunLog, exception_text
from .stop import Stop
from .vuser import User

PROCESSOR_ERROR = "EPROCESSOR"


def load_processor(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("yamlload_processor", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"processor {path}: cannot load")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # the user's module (sys.exit too): say what broke
        raise UsageError(f"processor {path}: {type(exc).__name__}: {exc}") from None
    return module


@dataclass
class HookContext:
    """What a processor hook receives: the user's variables, and its scenario's name."""

    vars: dict[str, Any]
    scenario: str


@dataclass
class HookResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Hooks:
    def __init__(
        self, processor: ModuleType | None, recorder: Recorder, log: RunLog, stop: Stop
    ) -> None:
        self.processor = processor
        self.rec = recorder
        self.log = log
        self.stop = stop

    async def call_all(self, names: tuple[str, ...], user: User, *args: Any) -> bool:
        """Request hooks in order, each given (*args, context); stop at the first failure."""
        context = HookContext(user.vars, user.scenario.name)
        for name in names:
            if not await self.call(name, user, *args, context):
                return False
        return True

    async def call(self, name: str, user: User, *args: Any, want_value: bool = False) -> bool:
        function = getattr(self.processor, name, None)
        try:
            result = function(*args) if function else None
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError as exc:
            if asyncio.current_task() in self.stop.cutting:
                raise  # the engine is cutting this user, not the hook failing
            return self._failed(name, user, exc)
        except BaseException as exc:  # the user's code failed (SystemExit too): count it
            return self._failed(name, user, exc)
        return bool(result) if want_value else True

    def _failed(self, name: str, user: User, exc: BaseException) -> bool:
        self.rec.count(ERRORS + PROCESSOR_ERROR)
        self.log.failure(PROCESSOR_ERROR, user, f"processor function {name!r}", exception_text(exc))
        return False
