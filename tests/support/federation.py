"""Workload-identity federation in end-to-end tests: tokens shaped like GitHub's, GitLab's
and Kubernetes', and trust policies written into a running Dockit's database.

A policy is written with the SQL backend straight into the server's SQLite file, as another
instance would: the server sees it on its next federated login (its store's version moved),
which is part of what these tests show.
"""

from __future__ import annotations

from typing import Any

from libdockit.backends.sql.backend import SqlBackend
from libdockit.federation import TrustPolicy

from .dockit import DockitServer

AUDIENCE = "https://registry.example.test"


def github_claims(**changes: Any) -> dict[str, Any]:
    """The claims of a GitHub Actions ID token (a push to main of acme/app)."""
    return {
        "aud": AUDIENCE,
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "repository_owner": "acme",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "workflow": "release",
        "event_name": "push",
        "jti": "gh-run-1",
        **changes,
    }


def gitlab_claims(**changes: Any) -> dict[str, Any]:
    """The claims of a GitLab CI ``id_tokens`` token (a job on main of acme/app)."""
    return {
        "aud": AUDIENCE,
        "sub": "project_path:acme/app:ref_type:branch:ref:main",
        "project_path": "acme/app",
        "namespace_path": "acme",
        "ref": "main",
        "ref_type": "branch",
        "pipeline_source": "push",
        "jti": "gl-job-1",
        **changes,
    }


def kubernetes_claims(namespace: str = "ci", account: str = "builder") -> dict[str, Any]:
    """The claims of a projected service-account token for ``namespace``/``account``."""
    return {
        "aud": [AUDIENCE],
        "sub": f"system:serviceaccount:{namespace}:{account}",
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": account, "uid": f"uid-{account}"},
            "pod": {"name": f"{account}-pod", "uid": "pod-uid"},
        },
        "jti": f"k8s-{namespace}-{account}",
    }


def store_policy(dockit: DockitServer, policy: TrustPolicy, *, replace: bool = False) -> None:
    """Add (or replace) ``policy`` in the server's database, as another instance would."""
    with SqlBackend(f"sqlite:///{dockit.database_path}") as store:
        if replace:
            store.replace_trust_policy(policy)
        else:
            store.add_trust_policy(policy)
