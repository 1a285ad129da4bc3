"""Issue #18: schemathesis over the whole OpenAPI document of the in-process app, as the platform admin and as a
depositor, with valid and invalid inputs derived from the schema (its coverage phase: boundary values, wrong
types, missing fields; then a few fuzzed examples): no answer is a 5xx and no request raises.

Bounded and repeatable: derandomized, at most COVERAGE_CASES + FUZZED_CASES cases per operation.
"""

from __future__ import annotations

import itertools
from collections import Counter

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, strategies as st
from schemathesis import GenerationMode

from tests.conftest import ADMIN_KEY

COVERAGE_CASES = 24
FUZZED_CASES = 3
FUZZING = hypothesis.settings(max_examples=FUZZED_CASES, derandomize=True, database=None, deadline=None,
                              phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                              suppress_health_check=list(HealthCheck))


def test_no_input_gives_a_server_error(admin, depositor):
    schema = schemathesis.openapi.from_asgi("/openapi.json", admin.client.app)
    depositor.deposit()  # something to find, page through and be refused access to
    keys = (ADMIN_KEY, depositor.key)
    statuses: Counter = Counter()
    server_errors: list[str] = []

    def call(operation, case, key) -> None:
        response = case.call(headers={"Authorization": f"Bearer {key}"})  # an exception fails the test
        statuses[response.status_code // 100] += 1
        if response.status_code >= 500:
            server_errors.append(f"{operation.label}: {response.status_code} {response.text[:300]}\n  "
                                 f"{case.as_curl_command()}")

    for result in schema.get_all_operations():
        operation = result.ok()
        coverage = schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                              generation_config=schema.config.generation_for(operation=operation))
        for i, case in enumerate(itertools.islice(coverage, COVERAGE_CASES)):
            call(operation, case, keys[i % 2])

        @FUZZING
        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE)), key=st.sampled_from(keys))
        def fuzz(case, key):
            call(operation, case, key)

        fuzz()
    assert not server_errors, "\n".join(server_errors)
    assert statuses[2] > 50 and statuses[4] > 500, statuses  # it reached the routes, and was refused too
