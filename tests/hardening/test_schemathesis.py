"""schemathesis against ``/api/v1/openapi.json`` of a real server, as the admin.

Bounded and deterministic: a fixed number of examples per operation, derandomized, no
example database, and only the checks this document can promise: no 5xx, responses and
status codes as documented.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.dockit import API, DockitServer, basic_auth, http_request

MAX_EXAMPLES = 25
CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance)
#: Status codes schemathesis got back, across every operation (checked by the last test).
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def api_schema(server: DockitServer) -> Any:
    document = json.loads(http_request(server.url + API + "/openapi.json").body)
    return schemathesis.openapi.from_dict(document)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_admin_api_conforms(case: schemathesis.Case[Any], server: DockitServer) -> None:
    response = case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": basic_auth(server.admin_creds)},
        checks=list(CHECKS),
        timeout=10,
    )
    STATUSES[response.status_code] += 1


def test_schemathesis_reached_the_operations(server: DockitServer) -> None:
    """Runs after the operations: calls were made, got past authentication, never a 5xx,
    and the server logged no Traceback."""
    total = sum(STATUSES.values())
    print(f"\nschemathesis: {total} calls; statuses {dict(sorted(STATUSES.items()))}")
    assert total >= 100, STATUSES
    assert not [status for status in STATUSES if status >= 500], STATUSES
    assert sum(n for status, n in STATUSES.items() if 200 <= status < 300) > 0, STATUSES
    assert "Traceback" not in server.log(), server.log()[-4000:]
