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
HEALTHCHECK --interval=10s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4315/readyz', timeout=2)"
ENTRYPOINT ["dockit"]
CMD ["api-server"]
