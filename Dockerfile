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
ENV DOCKIT_BIND=0.0.0.0:4315 \
    DOCKIT_DATABASE_URL=sqlite:////data/dockit.db
VOLUME ["/data"]
EXPOSE 4315
# Asks /readyz where api-server listens, with the same settings (DOCKIT_BIND, TLS, DOCKIT_CONFIG).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s \
  CMD ["dockit", "healthcheck", "--timeout", "3"]
ENTRYPOINT ["dockit"]
CMD ["api-server"]
