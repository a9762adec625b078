"""HTTP resources: ``token`` (/v2/token), ``certs`` (/v2/certs/pem), ``health`` (/healthz,
/readyz) and the ``admin`` package (the Admin API under /api/v1)."""
