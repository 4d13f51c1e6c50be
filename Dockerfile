# syntax=docker/dockerfile:1
# The nws suite as one image; docker-compose.yml runs it as every web process, worker
# and the one-shot migration (`nws web …`, `nws worker …`, `nws db upgrade`).
#
#   docker build -t nws-suite .
#   docker run --rm nws-suite --help

# --- build: install the package (non-editable) into a virtualenv ---------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/nws
WORKDIR /src
COPY . .
# kombu[redis]: kombu's Redis transport imports `packaging`, which only the kombu[redis]
# extra brings in and pyproject.toml does not declare (yet).
RUN /opt/nws/bin/pip install . "kombu[redis]"

# --- runtime: the virtualenv only, run as an unprivileged user -----------------------
FROM python:3.11-slim
ENV PATH=/opt/nws/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NWS_DATA_DIR=/data
RUN groupadd --system --gid 10001 nws \
 && useradd --system --uid 10001 --gid nws --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin nws \
 && mkdir -p /data && chown nws:nws /data
# The intake worker converts an application's print view to PDF (GET
# /api/intake/applications/ID.pdf) with headless Chromium; the CJK fonts print the
# Japanese. `--build-arg PDF_PACKAGES=` builds an image without them (the PDF endpoint
# then answers 503 in Japanese; the print view still prints from the browser).
ARG PDF_PACKAGES="chromium fonts-noto-cjk"
RUN if [ -n "$PDF_PACKAGES" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $PDF_PACKAGES \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /opt/nws /opt/nws
WORKDIR /data
USER nws
EXPOSE 8000
ENTRYPOINT ["nws"]
CMD ["--help"]
