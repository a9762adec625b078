"""schemathesis against ``/api/v1/openapi.json`` of a real server, as the admin.

Bounded and deterministic: a fixed number of examples per operation, derandomized, no
example database, and only the checks this document can promise: no 5xx, responses and
status codes as documented.

schemathesis is driven through its Python API (an operation's case strategy under a plain
hypothesis test), not its pytest plugin: the plugin reaches into pytest internals that
pytest 9 changed, and the suite must pass on the newest releases of its tools.
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
from schemathesis.core.result import Ok

from dockit_server.resources.admin.openapi_doc import OPENAPI_DOCUMENT
from tests.support.dockit import API, DockitServer, basic_auth, http_request

MAX_EXAMPLES = 50
CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance)
#: Status codes schemathesis got back, across every operation (checked by the last test).
STATUSES: Counter[int] = Counter()


def _operations() -> list[Any]:
    """Every operation of the document; an operation schemathesis cannot read fails here."""
    operations = []
    for result in schemathesis.openapi.from_dict(OPENAPI_DOCUMENT).get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"schemathesis cannot read an operation: {result.err()}")
        operations.append(result.ok())
    return operations


OPERATIONS = _operations()


def test_the_server_serves_the_document_under_test(server: DockitServer) -> None:
    served = json.loads(http_request(server.url + API + "/openapi.json").body)
    assert served == json.loads(json.dumps(OPENAPI_DOCUMENT))
    assert len(OPERATIONS) >= 20


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_admin_api_conforms(operation: Any, server: DockitServer) -> None:
    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(
            base_url=server.url,
            headers={"Authorization": basic_auth(server.admin_creds)},
            checks=list(CHECKS),
            timeout=10,
        )
        STATUSES[response.status_code] += 1

    check()


def test_schemathesis_reached_the_operations(server: DockitServer) -> None:
    """Runs after the operations: calls were made, got past authentication, never a 5xx,
    and the server logged no Traceback."""
    total = sum(STATUSES.values())
    print(f"\nschemathesis: {total} calls; statuses {dict(sorted(STATUSES.items()))}")
    assert total >= 100, STATUSES
    assert not [status for status in STATUSES if status >= 500], STATUSES
    assert sum(n for status, n in STATUSES.items() if 200 <= status < 300) > 0, STATUSES
    assert "Traceback" not in server.log(), server.log()[-4000:]
