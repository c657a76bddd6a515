"""hatchling hooks (pyproject.toml names this file in [tool.hatch.metadata.hooks.custom]
and [tool.hatch.build.targets.sdist.hooks.custom]); tests/test_wheel.py checks both.

- The long description (what PyPI shows) is README.md with its repository-relative links
  made absolute, since PyPI has no repository to resolve `docs/cli.md` against: against
  `[project.urls] Repository` when it is set (images from `raw/HEAD`, pages from
  `blob/HEAD`); without it, a relative image is left out and a relative link keeps only
  its text.
- hatchling adds the repository's .gitignore to every sdist by itself, whatever `exclude`
  says; the build hook takes it out, so the sdist holds no dot-file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
ABSOLUTE = re.compile(r"[a-z][a-z0-9+.-]*:|#|/", re.IGNORECASE)


def _repository(urls: dict[str, str]) -> str | None:
    for key, url in urls.items():
        if key.lower() in ("repository", "source", "source code") and url.startswith("https://"):
            return url.rstrip("/")
    return None


def long_description(readme: str, repository: str | None) -> str:
    def link(match: re.Match[str]) -> str:
        bang, text, target = match.groups()
        if ABSOLUTE.match(target):
            return match.group(0)
        if repository is None:
            return "" if bang else text
        kind = "raw" if bang else "blob"
        return f"{bang}[{text}]({repository}/{kind}/HEAD/{target})"

    out: list[str] = []
    fenced = False
    for line in readme.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or line.lstrip().startswith("```"):
            out.append(line)
            continue
        new = LINK.sub(link, line)
        if new.strip() or not line.strip():  # a line that held only an image goes
            out.append(new)
    return re.sub(r"\n{3,}", "\n\n", "".join(out))


class ReadmeHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        readme = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        text = long_description(readme, _repository(metadata.get("urls", {})))
        metadata["readme"] = {"content-type": "text/markdown", "text": text}


class NoDotFilesHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        forced: dict[str, str] = build_data.get("force_include", {})
        for source, target in list(forced.items()):
            if any(part.startswith(".") for part in target.replace("\\", "/").split("/")):
                del forced[source]
