"""What both converters share: the default phases, method keys, names and JSON paths."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

# A first, gentle load: one new user a second for 10 s. Lengthen it once the flow works.
DEFAULT_PHASES: list[dict[str, Any]] = [{"duration": 10, "arrivalRate": 1}]
DEFAULT_PHASES_COMMENT = (
    "A small first load: 1 new user a second for 10 s; raise it once the flow works."
)
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# A header name as the plan's schema takes it (an RFC 9110 token: plan/schema.py).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def http_method(method: str) -> str:
    """The plan's step key for an HTTP method (har.py skips an entry of any other)."""
    lowered = method.lower()
    return lowered if lowered in METHODS else "get"


def json_path(path: tuple[str | int, ...]) -> str:
    """`("data", "items", 0, "id")` → `$.data.items[0].id`, as a capture's `json:` takes."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif PLAIN_KEY.match(part):
            out += f".{part}"
        else:  # the capture's reader takes `\\` and `\'` inside quotes (plan/expr/paths.py)
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def variable_name(key: str, taken: set[str]) -> str:
    """A template-safe variable named after `key`, not one of `taken`."""
    base = re.sub(r"\W+", "_", key, flags=re.ASCII).strip("_") or "value"
    if not base.isascii() or not base.replace("_", "a").isalnum():
        base = "value"
    if base[0].isdigit():
        base = f"v_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def copied_template(plan: Any, captured: set[str]) -> str | None:
    """A `{{ ... }}` the input put in the plan (not a captured variable's): it would be
    evaluated when the plan runs, and `{{ $env.NAME }}` sends an environment variable to
    the target. An unclosed `{{` is one too: the plan's template reader refuses it. None
    when there is none. Each string is searched with str.find, once: linear."""
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found = _template_in(_searched(node), captured)
            if found is not None:
                return found
        elif isinstance(node, dict):
            stack.extend(reversed([*node.keys(), *node.values()]))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return None


_searched = str  # tests count the work through it


def _template_in(text: str, captured: set[str]) -> str | None:
    cursor = 0
    while True:
        start = text.find("{{", cursor)
        if start < 0:
            return None
        end = text.find("}}", start + 2)
        if end < 0:
            return text[start : start + 80]  # never closed: the template reader refuses it
        if text[start + 2 : end].strip() not in captured:
            return text[start : end + 2]
        cursor = end + 2


def input_path_of(data: Any, fragment: str) -> tuple[str | int, ...] | None:
    """Where in the input a string holding `fragment` is (the first such), or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if fragment in node:
                return path
        elif isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and fragment in key:
                    return (*path, key)
            stack.extend(reversed([(v, (*path, str(k))) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(v, (*path, n)) for n, v in enumerate(node)]))
    return None


def captured_names(plan: Any) -> set[str]:
    """Every variable a capture of the plan sets (`as:`)."""
    if isinstance(plan, dict):
        named = {str(plan["as"])} if "as" in plan and isinstance(plan.get("as"), str) else set()
        return named.union(*(captured_names(v) for v in plan.values()))
    if isinstance(plan, list):
        return set().union(*(captured_names(v) for v in plan))
    return set()


class InputProblem(Exception):
    """Input the converters refuse: `path` is where in the input (load.py gives it its
    line and column), `message` what is wrong. Exit 2."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class Noted(dict[str, Any]):
    """A mapping whose keys may carry an end-of-line comment (`notes`), which emit.py
    writes after the key's value: `think: 10  # the recording paused 66 s`."""

    def __init__(self, data: dict[str, Any], notes: dict[str, str] | None = None) -> None:
        super().__init__(data)
        self.notes: dict[str, str] = dict(notes or {})


def dotted(path: tuple[str | int, ...]) -> str:
    """`("log", "entries", 3, "request")` → `log.entries[3].request`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> bool:
    """Whether `text` holds half of a UTF-16 pair (`\\ud800` read from JSON), which no
    plan, header or UTF-8 text can carry; a whole pair is one character."""
    if _SURROGATE.search(text) is None:
        return False
    try:
        text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return True
    return False


def holds_lone_surrogate(data: Any) -> bool:
    """Whether a key or a string anywhere in `data` holds a lone surrogate (no recursion)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if lone_surrogate(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def node_count(data: Any, cap: int) -> int:
    """How many YAML nodes `data` is written as (each mapping, list, key and value, as
    the plan reader counts them), counting stops past `cap` (no recursion)."""
    count = 0
    stack = [data]
    while stack and count <= cap:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            count += len(node)  # the keys
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def nested_deeper(data: Any, limit: int) -> bool:
    """Whether `data` nests mappings and lists more than `limit` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


# What a secret is named like: a header, a body field or a query parameter.
# `key` only as the whole name (`?key=`), as Google's and many APIs' keys are sent; the
# run's redactor (plan/secrets.py) does not mask `key` (as often a search key), but a
# notice that names one too many costs less than a key shared by mistake.
SECRET_NAME = re.compile(
    r"passw|passwd|pwd|secret|token|api[-_]?key|^key$|authori[sz]ation|^auth|cookie|session"
    r"|credential",
    re.I,
)
# A URL's userinfo (`user:password@`), with or without a parseable rest.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]*@")


def without_userinfo(text: str) -> str:
    """`text` with the `user:password@` of each URL in it left out: for notes and notices."""
    return _USERINFO.sub(r"\1", text)


def has_password(url: str) -> bool:
    """Whether a URL carries `user:password@` (a password, however short)."""
    found = _USERINFO.search(url)
    return found is not None and ":" in found.group(0)[len(found.group(1)) :]


def copied_secrets(plan: dict[str, Any]) -> list[str]:
    """What the plan copied from its input that looks secret (authorization and cookie
    headers, API keys, passwords in bodies, tokens in query strings), named, never its
    value; templates (`{{ token }}`, a captured value) are not copies."""
    found: dict[str, None] = {}
    if has_password(str(plan.get("config", {}).get("target", ""))):
        found["a password in a URL (config.target)"] = None
    for scenario in plan.get("scenarios") or []:
        for step in scenario.get("flow") or []:
            for request in step.values():
                if isinstance(request, dict):
                    for name in _secrets_of(request):
                        found[name] = None
    return list(found)


def _secrets_of(request: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for name, value in (request.get("headers") or {}).items():
        if SECRET_NAME.search(str(name)) and _copied(value):
            names.append(f"header {name}")
    for key in ("json", "form"):
        for name in _secret_fields(request.get(key)):
            names.append(f"body field {name}")
    url = str(request.get("url", ""))
    if has_password(url):
        names.append("a password in a URL")
    if "?" in url:
        for name, value in parse_qsl(url.split("?", 1)[1], keep_blank_values=True):
            if SECRET_NAME.search(name) and _copied(value):
                names.append(f"query parameter {name}")
    return names


def _secret_fields(data: Any) -> list[str]:
    names: list[str] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if SECRET_NAME.search(str(k)) and _copied(v):
                    names.append(str(k))
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return names


def _copied(value: Any) -> bool:
    return isinstance(value, str | int) and str(value) != "" and "{{" not in str(value)
