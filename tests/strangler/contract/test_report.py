"""The contract check's report, from findings made up here (no processes): one cause on several operations is
one finding, accepted kinds are shown and not counted, and every finding carries a curl pair with the right
credential on each side and a pytest case that rebuilds its request."""

from __future__ import annotations

import json

from router.compare import Difference, Response
from strangler.contract.check import ContractReport, grouped, split_accepted
from strangler.contract.identities import Credentials
from strangler.contract.requests import ContractRequest
from strangler.contract.runner import Finding, Outcome, RunStats, kinds
from strangler.contract.traffic import Answer

CREDENTIALS = Credentials("token", {"user": ("Authorization", "Token u" * 5), "staff": ("Authorization", "Token s"),
                                    "bad-token": ("Authorization", "Token 0123")})


def finding(method: str, path: str, operation: str, differences: list[Difference], *, seen: int = 1,
            **request: object) -> Finding:
    sent = ContractRequest(method, path, operation, **request)  # type: ignore[arg-type]
    mono = Answer(Response(406, [("content-type", "application/json")], b'{"detail":"Not acceptable."}'), 0.01)
    svc = Answer(Response(200, [("content-type", "application/json")], b'{"count":0}'), 0.01)
    outcome = Outcome(sent, mono, svc, tuple(differences), kinds(sent, differences))
    return Finding(outcome.kinds[0], outcome, seen=seen, smallest=outcome)


STATUS = [Difference("status", 406, 200, "status")]


def report(findings: list[Finding], accepted: list[Finding] | None = None, max_differences: int = 0
           ) -> ContractReport:
    return ContractReport(plan="migration_plans/catalog.yaml", seed=7, examples_asked=100,
                          max_differences=max_differences, operations=["GET /api/catalog/products/"],
                          identities="anonymous, user, staff", isolation="scratch copies", writes=True,
                          monolith_url="http://127.0.0.1:8000", service_url="http://127.0.0.1:8101", host="localhost",
                          stats=RunStats(examples=100, pairs=120, explore_seconds=2.0, shrink_seconds=1.0),
                          findings=findings, credentials=CREDENTIALS, accepted=accepted or [])


def test_one_cause_on_several_operations_is_one_finding() -> None:
    html = {"headers": (("Accept", "text/html"),)}
    a = finding("GET", "/api/catalog/products/", "GET /api/catalog/products/", STATUS, seen=3, **html)
    b = finding("GET", "/api/catalog/categories/1/", "GET /api/catalog/categories/{id}/", STATUS, seen=2, **html)
    other = finding("GET", "/api/catalog/products/", "GET /api/catalog/products/", STATUS, seen=1,
                    query=(("format", "api"),))
    merged = grouped([b, a, other])
    assert [f.kind for f in merged] == ["GET /api/catalog/products/: status 406 vs 200"] * 2
    head = merged[0]
    assert head.best.request.path == "/api/catalog/products/"  # the shorter request stands for the group
    assert head.also == ["GET /api/catalog/categories/{id}/"] and head.seen == 5
    assert merged[1].best.request.query == (("format", "api"),) and merged[1].also == []


def test_accepted_kinds_are_reported_and_not_counted() -> None:
    delete = finding("DELETE", "/api/catalog/products/1/", "DELETE /api/catalog/products/{id}/",
                     [Difference("status", 409, 204, "status")], identity="staff")
    html = finding("GET", "/api/catalog/products/", "GET /api/catalog/products/", STATUS,
                   headers=(("Accept", "text/html"),))
    counted, accepted = split_accepted([delete, html], ["DELETE /api/catalog/products/{id}/: status 409 vs 204"])
    assert (counted, accepted) == ([html], [delete])
    assert report([], accepted).ok and not report(counted, accepted).ok
    assert report(counted, accepted, max_differences=1).ok
    text = report(counted, accepted).render()
    assert "accepted by the plan: DELETE /api/catalog/products/{id}/: status 409 vs 204" in text
    assert text.endswith("FAILED: 1 kind(s) of difference (at most 0 allowed)")


def test_each_finding_has_a_curl_pair_and_a_pytest_case() -> None:
    staff = finding("PATCH", "/api/catalog/products/1/", "PATCH /api/catalog/products/{id}/", STATUS,
                    identity="staff", headers=(("Content-Type", "application/json"),), body=b"{}")
    bad = finding("GET", "/api/catalog/products/", "GET /api/catalog/products/", STATUS, identity="bad-token")
    data = report([staff, bad]).to_dict()
    json.dumps(data)  # --json prints it as it is
    mono, svc = data["findings"][0]["curl"]["monolith"], data["findings"][0]["curl"]["service"]
    assert mono.startswith("curl -sS -i -X PATCH http://127.0.0.1:8000/api/catalog/products/1/ -H 'Host: localhost'")
    assert '"Authorization: Token $STAFF_TOKEN"' in mono
    assert '"X-Identity-Token: $STAFF_IDENTITY_TOKEN"' in svc and "http://127.0.0.1:8101/" in svc
    bad_mono, bad_svc = data["findings"][1]["curl"]["monolith"], data["findings"][1]["curl"]["service"]
    assert "'Authorization: Token 0123'" in bad_mono and "'Authorization: Token 0123'" in bad_svc
    case = data["findings"][0]["pytest"]
    namespace: dict[str, object] = {"ContractRequest": ContractRequest, "ContractEnv": object}
    exec(case, namespace)  # noqa: S102 - the tool's own output
    sent: list[ContractRequest] = []

    class Env:
        def assert_same(self, request: ContractRequest) -> None:
            sent.append(request)

    namespace[staff.best.request.test_name()](Env())  # type: ignore[operator]
    assert sent == [staff.best.request]
    text = report([staff, bad]).render()
    assert "120 request pairs in 3.0s = 40.0 pairs/s" in text
    assert "$USER_TOKEN/$STAFF_TOKEN" in text
