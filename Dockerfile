# yamlload in a container: the wheel is built in a builder stage and installed into a
# slim Python image that runs as a non-root user. See docs/docker.md.
#   docker build -t yamlload .
#   docker run --rm -v "$PWD:/plans" yamlload run --demo-target plan.yml

FROM python:3.12-slim AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY yamlload ./yamlload
RUN pip install --no-cache-dir --disable-pip-version-check build \
    && python -m build --wheel --outdir /dist

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=builder /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && useradd --create-home --uid 10001 --user-group yamlload \
    && mkdir -p /plans \
    && chown yamlload:yamlload /plans
USER 10001:10001
WORKDIR /plans
ENTRYPOINT ["yamlload"]
CMD ["--help"]
