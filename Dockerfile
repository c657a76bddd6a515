# yamlload in a container: the wheel is built in a builder stage and installed into a
# slim Python image that runs as a non-root user. See docs/docker.md.
#   docker build -t yamlload .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/plans" yamlload run --demo-target plan.yml
#
# The base is pinned to a Python release on a Debian release; bump both FROM lines on
# purpose (for security fixes), and for a byte-for-byte base add its digest:
#   python:3.12.8-slim-bookworm@sha256:<digest from `docker buildx imagetools inspect`>
# The build tools are pinned (build and hatchling with all their dependencies; --no-deps,
# so nothing unpinned slips in) and the build makes no isolated environment of its own,
# so the wheel does not depend on what the package index serves that day. yamlload's
# runtime dependencies are pinned too: the final stage installs the wheel --no-deps with
# requirements/docker-constraints.txt (every one of them, transitively, `==`; the set the
# tests ran with), and `pip check` fails the build if that list misses one.

FROM python:3.12.8-slim-bookworm AS builder
WORKDIR /src
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps \
        build==1.6.1 pyproject_hooks==1.3.3 packaging==26.4 hatchling==1.33.0 \
        pathspec==1.1.1 pluggy==1.7.0 tomlkit==0.15.3 trove-classifiers==2026.9.21.13
COPY pyproject.toml README.md hatch_build.py ./
COPY requirements/docker-constraints.txt ./requirements/
COPY yamlload ./yamlload
RUN python -m build --wheel --no-isolation --outdir /dist

FROM python:3.12.8-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=builder /dist/ /tmp/dist/
COPY --from=builder /src/requirements/docker-constraints.txt /tmp/dist/
RUN pip install --no-cache-dir --no-deps -r /tmp/dist/docker-constraints.txt /tmp/dist/*.whl \
    && pip check \
    && rm -rf /tmp/dist \
    && useradd --create-home --uid 10001 --user-group yamlload \
    && mkdir -p /plans \
    && chown yamlload:yamlload /plans
USER 10001:10001
WORKDIR /plans
ENTRYPOINT ["yamlload"]
CMD ["--help"]
