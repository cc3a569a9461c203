# The hub image: Python 3.11 slim with the hub extra only (no Kivy, no aiortc).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protocol ./protocol
COPY config ./config
COPY alerts ./alerts
COPY integrations ./integrations
COPY hub ./hub
COPY teleassist ./teleassist
COPY device_agent ./device_agent
COPY firmware_sim ./firmware_sim
COPY tablet_app ./tablet_app
# postgresql-client: pg_dump/pg_restore for 'teleassist hub backup' and 'restore' (Debian 12: 15,
# the server's major version). /mosquitto-dynamic is owned by the hub's user so that the named
# volume mounted there (the hub starts before the broker) is writable by the hub.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir ".[hub]" \
    && useradd --system --uid 10001 teleassist \
    && mkdir -p /data /mosquitto-dynamic && chown teleassist /data /mosquitto-dynamic
USER teleassist
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT ["teleassist", "--log-json"]
CMD ["hub"]
