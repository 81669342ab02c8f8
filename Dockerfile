# syntax=docker/dockerfile:1
# One image for every role of the rig in docker-compose.yml: reference server replicas
# (`harness serve`), Locust master and workers (`harness load`), Dask scheduler and workers
# (`dask scheduler`, `dask worker`) and the simulation client (`harness simulate`).
#
# Stage 1 builds a virtualenv with the project and its dependencies (every one ships a
# manylinux wheel for CPython 3.11, so no compiler is needed); stage 2 copies only that
# virtualenv and the scenario files onto a clean slim image and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/harness
WORKDIR /src
# Dependencies first, from the metadata alone, so that a code change reuses this layer.
COPY pyproject.toml README.md ./
RUN mkdir harness && touch harness/__init__.py \
    && /opt/harness/bin/pip install . \
    && /opt/harness/bin/pip uninstall --yes spine-harness
COPY harness ./harness
RUN /opt/harness/bin/pip install --no-deps . \
    && /opt/harness/bin/harness --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid "${UID}" harness \
    && useradd --system --uid "${UID}" --gid harness --home-dir /app --shell /usr/sbin/nologin harness \
    && mkdir -p /app /data/reports \
    && chown -R harness:harness /data
COPY --from=build /opt/harness /opt/harness
WORKDIR /app
COPY --chown=root:root scenarios ./scenarios
ENV PATH=/opt/harness/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HARNESS_DATA_DIR=/data \
    HARNESS_REPORTS_DIR=/data/reports \
    HARNESS_SCENARIOS_DIR=/app/scenarios
USER harness:harness
VOLUME ["/data"]
# 8000 reference server, 5557 Locust master, 8786/8787 Dask scheduler and dashboard.
EXPOSE 8000 5557 8786 8787
CMD ["harness", "--help"]
