# The OCPP server: gunicorn with the gevent worker serving the charge points (9000) and the API (9001).
# docker build -t ocpp-server . && docker run -p 9000:9000 -p 9001:9001 -v ocpp-data:/app/data ocpp-server

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
# pg_dump and pg_restore for PostgreSQL backups, from PostgreSQL's own repository: a pg_dump must be at
# least as new as the server it dumps, and Debian's is 15.
ARG PG_CLIENT_VERSION=17
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian package versions are not pinned (they change under a tag); the base image and PostgreSQL major are.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_VERSION}" \
    && apt-get purge -y curl gnupg && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ocpp \
    && install -d -o ocpp -g ocpp /app/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . /app
# The application's modules compiled once, here: with PYTHONDONTWRITEBYTECODE each worker would compile
# them again at every start, which a fleet reconnecting after a restart waits for.
RUN /opt/venv/bin/python -m compileall -q app config.py wsgi.py gunicorn.conf.py worker.py

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=wsgi \
    OCPP_HOST=0.0.0.0 \
    DB_SQLITE_PATH=/app/data/ocpp_server.db \
    BACKUP_DIR=/app/data/backups

USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 9000 9001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "docker/healthcheck.py"]
ENTRYPOINT ["docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
