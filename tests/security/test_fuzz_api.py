"""schemathesis against /api/openapi.json: every operation, generated requests valid and invalid;
no answer is a 500 and every answer conforms to the document (status code, content type, schema)."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

from tests.conftest import BACKENDS, running_server

KEY = "fuzzing-key-0123456789"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# More for a deeper run: FUZZ_EXAMPLES=500 make test
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_server(request, tmp_path_factory):
    with running_server(request.param, tmp_path_factory, API_KEYS=KEY, OCPP_COMMAND_TIMEOUT=1) as server:
        yield server


def test_every_operation_survives_generated_requests(fuzzed_server):
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.api_url}/api/openapi.json")
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def survives(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)

        try:
            survives()
        except BaseException as failure:  # schemathesis raises an exception group
            failures.append(f"{operation.label}: {str(failure)[:800]}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
