# Dockit: authentication for OCI registries.
FROM python:3.11-slim

RUN useradd --system --uid 10001 --home-dir /data --create-home dockit
WORKDIR /src
COPY pyproject.toml README.md ./
COPY libdockit ./libdockit
COPY dockit_server ./dockit_server
RUN pip install --no-cache-dir '.[ldap,postgres]' && rm -rf /src

USER dockit
WORKDIR /data
# dockit api-server runs gunicorn's gevent workers (each holds many kept-alive connections)
# and closes a connection that brings no request within DOCKIT_READ_TIMEOUT seconds, so the
# port can face clients directly; see README, "Serving and timeouts".
ENV DOCKIT_BIND=0.0.0.0:4315 \
    DOCKIT_DATABASE_URL=sqlite:////data/dockit.db \
    DOCKIT_WORKERS=2 \
    DOCKIT_READ_TIMEOUT=10
VOLUME ["/data"]
EXPOSE 4315
# Asks /readyz where api-server listens, with the same settings (DOCKIT_BIND, TLS, DOCKIT_CONFIG).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s \
  CMD ["dockit", "healthcheck", "--timeout", "3"]
ENTRYPOINT ["dockit"]
CMD ["api-server"]
