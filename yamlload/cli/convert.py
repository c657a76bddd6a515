"""`yamlload convert`: a HAR recording or an OpenAPI description into a plan
(yamlload/convert does the converting; this reads the flags and writes the plan)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from ..convert import convert_document, plan_text, read_input
from ..convert.common import captured_names, copied_template
from ..errors import UsageError
from ..text import one_line
from .init import check_new_file, print_text, write_new_file


@click.command(short_help="Turn a HAR recording or an OpenAPI description into a plan.")
@click.argument("source", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the plan to this new file (never overwritten); default: standard output.",
)
@click.option(
    "--include-assets",
    is_flag=True,
    help="HAR: keep static assets (images, CSS, JS, fonts, media), left out by default.",
)
def convert(source: str, output: str | None, include_assets: bool) -> None:
    """Convert INPUT, a HAR recording (a browser's export) or an OpenAPI 3 description
    (YAML or JSON), into a plan: see docs/convert.md.

    A HAR becomes one scenario with the requests in order, pauses, bodies, the headers
    that matter, and captures for tokens the server handed out; an OpenAPI description
    becomes a smoke plan with one request per operation that can be filled in.
    """
    if output is not None:
        check_new_file(Path(output), "convert")  # before reading: fail fast, exit 2
    converted = convert_document(read_input(source), include_assets=include_assets)
    copied = copied_template(converted.plan, captured_names(converted.plan))
    if copied is not None:
        raise UsageError(
            f"{source}: holds {one_line(copied)[:80]!r}, which the plan would run as a "
            "template (a {{ $env.NAME }} would send that variable to the target): "
            "remove it from the input, or write the plan by hand"
        )
    name = shlex.quote(Path(output).name) if output else "PLAN"
    text = plan_text(
        converted.plan, converted.notes, Path(source).name, converted.phases_comment, name
    )
    if output is None:
        print_text(text)
        return
    write_new_file(Path(output), text, "convert")
    click.echo(f"Wrote {output}: a plan from {converted.kind} {source}.", err=True)
