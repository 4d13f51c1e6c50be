"""Schemathesis against the embedded suite, from its own OpenAPI document: every
operation, anonymously and as each role (applicant, 都道府県 and J-LIS primary reviewers,
総務省's secondary reviewer, operator), with valid and invalid input generated from the
schemas. No answer may be a 5xx; status codes, content types and JSON bodies must be the
documented ones; every 4xx says what is wrong in Japanese.

The suite is a throw-away one in a temporary folder: a registered application (master
version 1) and a draft change application give the generated requests real ids to hit.
Its worker is stopped before the fuzzing, so nothing it queues is ever sent, and no host
name is resolved (outbound URLs name no reachable receiver)."""
from __future__ import annotations

import collections
import ipaddress
import json
import os
import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from shared import outbound
from tests import factories
from tests.conftest import Suite, wait_for

#: examples per operation and generation mode, for a role the operation admits; a role
#: it refuses gets a few (it must answer 401/403 as documented, whatever the input)
#: (NWS_FUZZ_EXAMPLES raises it for a longer hunt, with fresh random inputs each run;
#: the default run is derandomized: the same inputs every time)
EXAMPLES = int(os.environ.get("NWS_FUZZ_EXAMPLES", "4"))
DERANDOMIZE = "NWS_FUZZ_EXAMPLES" not in os.environ
REFUSED_EXAMPLES = 1
ROLES = {"anonymous": None, "applicant": "demo-applicant", "prefecture": "demo-pref",
         "jlis": "demo-jlis", "mic": "demo-mic", "operator": "demo-operator"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
#: operations that end the caller's token or change its account run last, each with a
#: token of its own
ENDS_TOKEN = {"POST /api/auth/logout"}
FUZZ_TARGET = "fuzz-target"          # the account operators' account operations may hit


def no_dns(host: str, port: int):
    """Outbound checks see IP literals only: no name is ever resolved."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        raise OSError("no name resolution in the fuzz run") from None


def fresh_token(suite: Suite, login: str) -> str:
    """A token of ``login`` issued directly (no login request, so no login throttle)."""
    from services.identity.models import Account
    from shared.auth import Principal, issue_token
    from sqlalchemy import select

    with suite.ctx("identity").transaction() as session:
        a = session.scalars(select(Account).where(Account.login == login)).one()
        principal = Principal(a.id, a.login, a.org_id, a.role, a.name, a.department,
                              generation=a.token_generation)
    return issue_token(principal, suite.app.config["SECRET_KEY"],
                       suite.app.config["NWS_TOKEN_TTL"])[0]


def registered_application(s: Suite) -> int:
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    factories.put_forms(s.client, h, app_id, factories.all_forms("131016"))
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()),
             what="forms validated")
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    s.wait_status(app_id, "primary_review")
    for login, comment in (("demo-pref", ""), ("demo-mic", "確認しました")):
        res = s.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "承認", "comment": comment}, headers=s.headers(login))
        assert res.status_code == 201, res.get_json()
        if login == "demo-pref":
            s.wait_status(app_id, "secondary_review")
    s.wait_status(app_id, "registered")
    return app_id


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(outbound, "resolve", no_dns)
        s = Suite(tmp_path_factory.mktemp("fuzz") / "var")
        try:
            registered = registered_application(s)
            draft = factories.create_application(s.client, s.headers("demo-applicant"), "change")
            s.add_user(FUZZ_TARGET, "131016", "applicant")
            s.worker.stop()
            s.worker = None
            known = {"app_id": [registered, draft], "org_id": ["131016"], "number": [1],
                     "login_name": [FUZZ_TARGET]}
            yield s, known
        finally:
            s.close()


def strategy(op, mode: GenerationMode, known: dict):
    """Generated cases, half of them on ids that exist."""
    generated = op.as_strategy(generation_mode=mode)
    names = {p.name for p in op.path_parameters}
    fixed = {name: values for name, values in known.items() if name in names}
    if not fixed:
        return generated
    return st.one_of(generated, st.fixed_dictionaries(
        {name: st.sampled_from(values) for name, values in fixed.items()}).flatmap(
        lambda params: op.as_strategy(generation_mode=mode, path_parameters=params)))


def admits(op, role: str) -> bool:
    security = op.definition.raw.get("security")
    if security == []:
        return True
    if role == "anonymous":
        return False
    roles = op.definition.raw.get("x-roles")
    if roles is None:                       # the suite's own calls, subscribers
        return "bearerAuth" in str(security) and role == "operator"
    return ROLES[role] is not None and _role_of(role) in roles


def _role_of(role: str) -> str:
    return {"applicant": "applicant", "prefecture": "primary_reviewer",
            "jlis": "primary_reviewer", "mic": "secondary_reviewer",
            "operator": "operator"}[role]


def test_every_operation_as_every_role_answers_as_documented(fuzzed):
    s, known = fuzzed
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", s.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 65
    operations.sort(key=lambda op: (op.label in ENDS_TOKEN, op.method.upper() == "DELETE"))
    failures: dict[tuple, list[str]] = collections.defaultdict(list)
    calls = collections.Counter()
    started = time.monotonic()

    def fuzz(op, role: str, login: str | None, mode: GenerationMode, examples: int) -> None:
        key = (op.label, role, mode.value)

        @given(case=strategy(op, mode, known))
        @settings(max_examples=examples, deadline=None, database=None,
                  derandomize=DERANDOMIZE, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case):
            headers = {}
            if login:
                token = fresh_token(s, login) if op.label in ENDS_TOKEN else s.token(login)
                headers["Authorization"] = f"Bearer {token}"
            response = case.call(headers=headers)
            calls[response.status_code // 100] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:   # check failures
                failures[key].append(str(exc))
            if 400 <= response.status_code < 500:
                text = response.content.decode("utf-8", "replace")
                try:
                    message = json.loads(text)["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = ""
                if not JAPANESE.search(message):
                    failures[key].append(f"{response.status_code} without a Japanese message: "
                                         f"{text[:300]}\n{case.as_curl_command()}")

        try:
            run()
        except Unsatisfiable:       # nothing to make invalid (no parameters, no body)
            pass

    for role, login in ROLES.items():
        for op in operations:
            if admits(op, role):
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    fuzz(op, role, login, mode, EXAMPLES)
            else:
                fuzz(op, role, login, GenerationMode.POSITIVE, REFUSED_EXAMPLES)

    elapsed = time.monotonic() - started
    print(f"schemathesis: {sum(calls.values())} requests in {elapsed:.0f} s, "
          f"by class {dict(sorted(calls.items()))}")
    report = "\n\n".join(f"{op} as {role} ({mode}): {texts[0][:3000]}"
                         for (op, role, mode), texts in failures.items())
    assert not failures, f"{len(failures)} operation/role/mode runs failed:\n\n{report}"
    assert calls[2] > 50         # the known ids made some requests succeed
