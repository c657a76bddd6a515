"""`yamlload convert`: a HAR recording or an OpenAPI description into a plan
(yamlload/convert does the converting; this reads the flags and writes the plan)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from ..convert import convert_document, plan_text, read_input
from ..convert.common import (
    captured_names,
    copied_secrets,
    copied_template,
    dotted,
    input_path_of,
    nested_deeper,
    node_count,
    without_userinfo,
)
from ..convert.har import origin_of
from ..errors import PlanError, UsageError
from ..plan.compile import compile_document
from ..plan.files import MAX_PLAN_BYTES
from ..plan.secrets import mask_userinfo
from ..plan.source import MAX_DEPTH, MAX_NODES, Located, PlanOptions
from ..text import one_line
from .init import check_new_file, print_text, refuse_folder_name, write_new_file


@click.command(short_help="Turn a HAR recording or an OpenAPI description into a plan.")
@click.argument("source", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=str,  # a folder is refused by refuse_folder_name, saying what to give
    help="Write the plan to this new file (never overwritten; `-` is standard output, "
    "the default).",
)
@click.option(
    "--include-assets",
    is_flag=True,
    help="HAR: keep static assets (images, CSS, JS, fonts, media), left out by default.",
)
@click.option(
    "--all-methods",
    is_flag=True,
    help="OpenAPI: send every operation; by default only GET and HEAD (a smoke test "
    "should not change data).",
)
def convert(source: str, output: str | None, include_assets: bool, all_methods: bool) -> None:
    """Convert INPUT, a HAR recording (a browser's export) or an OpenAPI 3 description
    (YAML or JSON), into a plan: see docs/convert.md in yamlload's repository.

    A HAR becomes one scenario with the requests in order, pauses, bodies, the headers
    that matter, and captures for tokens the server handed out; an OpenAPI description
    becomes a smoke plan with one request per operation that can be filled in (GET and
    HEAD only, unless --all-methods).
    """
    if output == "-":
        output = None
    if output is not None:
        refuse_folder_name(output, "convert")  # `out/` would be written as a file `out`
        check_new_file(Path(output), "convert")  # before reading: fail fast, exit 2
    located = read_input(source)
    converted = convert_document(located, include_assets=include_assets, all_methods=all_methods)
    copied = copied_template(converted.plan, captured_names(converted.plan))
    if copied is not None:
        path = input_path_of(located.data, copied)
        where = source if path is None else f"{located.key_pos(path)}: {dotted(path)}"
        raise UsageError(
            f"{where}: holds {one_line(copied)[:80]!r}, which the plan would run as a "
            "template (a {{ $env.NAME }} would send that variable to the target; an "
            "unclosed {{ is refused by the plan's reader): remove it from the input, or "
            "write the plan by hand"
        )
    _refuse_too_large(converted.plan, converted.kind, source)  # before writing it out
    name = shlex.quote(Path(output).name) if output else "PLAN"
    text = plan_text(
        converted.plan, converted.notes, Path(source).name, converted.phases_comment, name
    )
    size = len(text.encode("utf-8"))
    if size > MAX_PLAN_BYTES:
        why = (
            "too many operations (convert a part of the description)"
            if converted.kind == "OpenAPI"
            else "too many requests or too large request bodies (drop those entries)"
        )
        raise UsageError(
            f"{source}: the plan would be {size:,} bytes, more than the {MAX_PLAN_BYTES:,} a "
            f"plan may be: {why}"
        )
    _refuse_invalid(converted.plan, output or "PLAN", source)  # never one validate refuses
    for line in _notices(converted.plan, output):
        click.echo(line, err=True)
    secrets = bool(copied_secrets(converted.plan))
    if output is None:
        print_text(text)
        return
    write_new_file(Path(output), text, "convert", private=secrets)
    click.echo(
        f"Wrote {one_line(output)}: a plan from {converted.kind} {one_line(source)}.", err=True
    )


def _refuse_too_large(plan: dict[str, Any], kind: str, source: str) -> None:
    """The plan reader's caps (plan/source.py: MAX_NODES, MAX_DEPTH) checked on the dict:
    a plan past them is one `validate` refuses, so it is not written."""
    what = (
        "too many operations (convert a part of the description)"
        if kind == "OpenAPI"
        else "too many requests or too large JSON bodies (drop those entries)"
    )
    if node_count(plan, MAX_NODES) > MAX_NODES:
        raise UsageError(
            f"{source}: the plan would have more than {MAX_NODES:,} YAML nodes (values, "
            f"keys, lists and mappings), more than a plan may have: {what}; it is not "
            "written"
        )
    if nested_deeper(plan, MAX_DEPTH):
        raise UsageError(
            f"{source}: the plan would nest more than {MAX_DEPTH} levels deep, more than "
            "a plan may: a request body nests too deeply (drop that entry); it is not written"
        )


def _refuse_invalid(plan: dict[str, Any], name: str, source: str) -> None:
    """The plan checked and compiled as `yamlload validate` does, in memory: a plan
    convert made that does not compile is a bug of convert's, said as exit 2 with the
    problems, never a file that `run` then refuses. The dict is compiled, not its text
    read back (ruamel's reader takes 4 s on a 2,000-request plan; emit.py writes each
    string so that it reads back as it was, which tests/test_convert_round2.py holds)."""
    try:
        compile_document(Located(data=plan), name, PlanOptions())
    except PlanError as exc:
        listed = "; ".join(mask_userinfo(p.message) for p in exc.problems[:5])
        more = f" (and {len(exc.problems) - 5} more)" if len(exc.problems) > 5 else ""
        raise UsageError(
            f"{source}: the plan made from it would not be valid, so it is not written: "
            f"{one_line(listed)}{more} (please report this: convert should not make it)"
        ) from None


def _notices(plan: dict[str, Any], output: str | None) -> list[str]:
    """What the user must know before running the plan: copied secrets (named, never their
    values) and requests to origins other than config.target."""
    lines = []
    secrets = copied_secrets(plan)
    if secrets:
        where = "the plan" if output is None else f"{one_line(output)} (written mode 0600)"
        listed = ", ".join(secrets[:12]) + (", …" if len(secrets) > 12 else "")
        lines.append(
            f"convert: {where} holds secrets copied from the input: {one_line(listed)}; "
            "move them to {{ $env.NAME }} before you share or commit it"
        )
    target = str(plan["config"].get("target", ""))
    others: dict[str, None] = {}
    for scenario in plan["scenarios"]:
        for step in scenario["flow"]:
            for request in step.values():
                url = request.get("url", "") if isinstance(request, dict) else ""
                absolute = str(url).lower().startswith(("http://", "https://"))
                if absolute and origin_of(str(url)) != origin_of(target):
                    other = without_userinfo(origin_of(str(url)))
                    if other == without_userinfo(origin_of(target)):
                        other += " with other credentials (user:password@)"
                    others[other] = None
    if others:
        listed = ", ".join(list(others)[:10]) + (", …" if len(others) > 10 else "")
        shown = one_line(without_userinfo(origin_of(target)))
        lines.append(
            f"convert: requests to other origins than {shown} stay absolute URLs "
            f"(--demo-target does not move them): {one_line(listed)}"
        )
    return lines
