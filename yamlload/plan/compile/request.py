"""One request step: url, headers, bodies, uploads (checked now when their path is
fixed), captures, expectations and Artillery's legacy `match`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Any, cast, get_args

from ..expr import (
    ExprError,
    Template,
    compile_jmespath,
    compile_regexp,
    jsonpath_to_jmespath,
)
from ..files import check_input_file, confinement_message, outside_roots
from ..ir import Capture, Expect, ExpectKind, FormFile, Match, Method, Request, TMap, Value
from ..source import Path
from .context import Context

EXPECT_KINDS = frozenset(get_args(ExpectKind))


@dataclass(frozen=True)
class ConfinedFile(FormFile):
    """A formData `fromFile` with the folders its rendered path must stay in (the plan's
    folder and each --allow-path; see the runtime's FilePathError)."""

    roots: tuple[str, ...] = ()


def compile_request(cx: Context, path: Path, method: str, spec: dict[str, Any]) -> Request:
    url = str(spec["url"])
    form_data = spec.get("formData")
    return Request(
        method=cast(Method, method.upper()),
        url=cx.template((*path, "url"), url),
        name=spec.get("name"),
        headers=cx.tmap((*path, "headers")),
        qs=cx.tmap((*path, "qs")),
        json=cx.value((*path, "json"), spec.get("json")),
        has_json="json" in spec,
        body=cx.value((*path, "body"), spec.get("body")),
        form=cx.tmap((*path, "form")) if "form" in spec else None,
        form_data=_form_data(cx, (*path, "formData"), form_data) if form_data is not None else None,
        cookie=cx.tmap((*path, "cookie")),
        auth=_auth(cx, (*path, "auth"), spec.get("auth")),
        follow_redirect=bool(spec.get("followRedirect", True)),
        gzip=bool(spec.get("gzip", spec.get("compress", False))),
        captures=_captures(cx, (*path, "capture"), spec.get("capture")),
        expects=_expects(cx, (*path, "expect"), spec.get("expect")),
        matches=_matches(cx, (*path, "match"), spec.get("match")),
        if_true=cx.condition((*path, "ifTrue"), spec.get("ifTrue")),
        probability=spec.get("probability"),
        before_request=cx.names((*path, "beforeRequest"), spec.get("beforeRequest")),
        after_response=cx.names((*path, "afterResponse"), spec.get("afterResponse")),
        strip_query=cx.strip_query,
        pos=cx.doc.pos(path),
    )


def _auth(cx: Context, path: Path, raw: dict[str, Any] | None) -> tuple[Template, Template] | None:
    if raw is None:
        return None
    return (
        cx.template((*path, "user"), str(raw["user"])),
        cx.template((*path, "pass"), str(raw.get("pass", ""))),
    )


def _form_data(cx: Context, path: Path, raw: dict[str, Any]) -> TMap:
    fields: list[tuple[str, Value]] = []
    for name, spec in raw.items():
        at = (*path, name)
        if isinstance(spec, dict) and "fromFile" in spec:
            base_dir = str(cx.base_dir((*at, "fromFile")))
            _check_upload(cx, (*at, "fromFile"), spec["fromFile"], base_dir)
            fields.append(
                (
                    name,
                    ConfinedFile(
                        path=cx.template((*at, "fromFile"), spec["fromFile"]),
                        base_dir=base_dir,
                        roots=cx.roots,
                        content_type=cx.template((*at, "contentType"), spec["contentType"])
                        if "contentType" in spec
                        else None,
                        filename=cx.template((*at, "filename"), spec["filename"])
                        if "filename" in spec
                        else None,
                    ),
                )
            )
        elif isinstance(spec, dict):
            fields.append((name, cx.value((*at, "value"), spec.get("value"))))
        else:
            fields.append((name, cx.value(at, spec)))
    return TMap(tuple(fields))


def _check_upload(cx: Context, path: Path, raw: Any, base_dir: str) -> None:
    """A fromFile without templates is checked now, as the run would: inside the
    plan's folder or an --allow-path (not the current folder: a rendered one may not
    be either), a regular file."""
    if not isinstance(raw, str) or "{{" in raw:
        return
    file = FsPath(base_dir) / raw
    real = outside_roots(file, cx.roots)
    if real is not None:
        message = confinement_message(file, real).replace(", the current folder", "")
        cx.error(path, message)
        return
    problem = check_input_file(file, cx.roots)
    if problem is not None:
        cx.error(path, problem)


def _captures(cx: Context, path: Path, raw: Any) -> tuple[Capture, ...]:
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out: list[Capture] = []
    for index, spec in enumerate(items):
        at = (*path, index) if isinstance(raw, list) else path
        if cx.healthy(at) and isinstance(spec, dict):
            capture = _capture(cx, at, spec, spec.get("as", ""))
            if capture is not None:
                out.append(capture)
    return tuple(out)


def _capture(cx: Context, path: Path, spec: dict[str, Any], as_name: str) -> Capture | None:
    kinds = [k for k in ("json", "jmespath", "regexp", "header") if k in spec]
    if len(kinds) != 1:
        found = f"has {' and '.join(kinds)}" if kinds else "has none"
        cx.error(path, f"a capture takes one of json, jmespath, regexp or header; this one {found}")
        return None
    kind = kinds[0]
    source = str(spec[kind])
    base = Capture(
        kind="header",
        as_name=as_name,
        source=source,
        strict=bool(spec.get("strict", True)),
        pos=cx.doc.pos(path),
    )
    try:
        if kind == "json":
            jmes = compile_jmespath(jsonpath_to_jmespath(source), source)
            return replace(base, kind="json", path=jmes)
        if kind == "jmespath":
            return replace(base, kind="jmespath", path=compile_jmespath(source))
        if kind == "regexp":
            group = spec.get("group")
            pattern = compile_regexp(source, str(spec.get("flags", "")))
            if isinstance(group, int) and group > pattern.groups:
                cx.error((*path, "group"), f"the regexp has {pattern.groups} groups, not {group}")
                return None
            if isinstance(group, str) and group not in pattern.groupindex and not group.isdigit():
                cx.error((*path, "group"), f"the regexp has no group named {group!r}")
                return None
            return replace(base, kind="regexp", regexp=pattern, group=group)
    except ExprError as exc:
        cx.error((*path, kind), exc.message)
        return None
    return replace(base, header=source.lower())


def _matches(cx: Context, path: Path, raw: Any) -> tuple[Match, ...]:
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out: list[Match] = []
    for index, spec in enumerate(items):
        at = (*path, index) if isinstance(raw, list) else path
        capture = _capture(cx, at, spec, "") if cx.healthy(at) and isinstance(spec, dict) else None
        if capture is not None:
            out.append(Match(capture, cx.value((*at, "value"), spec["value"]), cx.doc.pos(at)))
    return tuple(out)


def _expects(cx: Context, path: Path, raw: Any) -> tuple[Expect, ...]:
    entries: list[tuple[Path, str, Any]] = []
    if isinstance(raw, dict) and cx.healthy(path):
        entries = [((*path, k), k, v) for k, v in raw.items()]
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            if isinstance(item, dict) and cx.healthy((*path, index)):
                entries.extend(((*path, index, k), k, v) for k, v in item.items())
    out: list[Expect] = []
    for at, kind, value in entries:
        if kind not in EXPECT_KINDS:
            continue  # an unknown check, reported by the schema
        expect = _expect(cx, at, kind, value)
        if expect is not None:
            out.append(expect)
    return tuple(out)


def _expect(cx: Context, path: Path, kind: str, raw: Any) -> Expect | None:
    pos = cx.doc.pos(path)
    if kind in ("statusCode", "notStatusCode"):
        codes = raw if isinstance(raw, list) else [raw]
        for i, code in enumerate(codes):
            if not (isinstance(code, int) and not isinstance(code, bool)) and not (
                isinstance(code, str) and (code.strip().isdigit() or "{{" in code)
            ):
                cx.error(
                    (*path, i) if isinstance(raw, list) else path,
                    f"{code!r} is not a status code",
                )
                return None
        return Expect(kind, tuple(cx.value(path, c) for c in codes), pos)  # type: ignore[arg-type]
    if kind == "jmespath":
        try:
            return Expect("jmespath", (raw,), pos, path=compile_jmespath(raw))
        except ExprError as exc:
            cx.error(path, exc.message)
            return None
    if kind == "matchesRegexp" and "{{" not in raw:
        try:
            return Expect("matchesRegexp", (raw,), pos, regexp=compile_regexp(raw))
        except ExprError as exc:
            cx.error(path, exc.message)
            return None
    args = raw if isinstance(raw, list) else [raw]
    return Expect(kind, tuple(cx.value(path, a) for a in args), pos)  # type: ignore[arg-type]
