"""The metrics (router/addons/metrics.py) as the admin API serves them: Prometheus counts of requests, latency,
upstream errors, circuits, fallbacks and shadow outcomes, and the per-backend figures of ``/counters``."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.router.e2e.features import (
    DEAD,
    Running,
    admin,
    shadow_figures,
)
from tests.router.e2e.helpers import wait_for

pytestmark = pytest.mark.slow


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(router: Running) -> Samples:
    response = admin(router, "GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_admin_token(shadow_router: Running) -> None:
    assert admin(shadow_router, "GET", "/metrics", token=None).status_code == 401
    assert httpx.get(f"{shadow_router.url}/metrics").headers["x-upstream"] == "monolith"  # never public


def test_metrics_count_requests_and_their_latency(shadow_router: Running) -> None:
    before = scrape(shadow_router)
    for n in range(3):
        assert httpx.get(f"{shadow_router.url}/echo/mirror/metrics/{n}").status_code == 200
    assert httpx.get(f"{shadow_router.url}/nowhere").status_code == 404
    after = scrape(shadow_router)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("router_requests_total", route="mirror", backend="monolith", method="GET", code="200") == 3
    assert delta("router_requests_total", route="default", backend="monolith", method="GET", code="404") == 1
    assert delta("router_request_duration_seconds_bucket", route="mirror", backend="monolith", le="+Inf") == 3
    assert delta("router_request_duration_seconds_bucket", route="mirror", backend="monolith", le="5.0") == 3
    assert delta("router_request_duration_seconds_count", route="mirror", backend="monolith") == 3
    assert 0 < delta("router_request_duration_seconds_sum", route="mirror", backend="monolith") < 3
    table = admin(shadow_router, "GET", "/table").json()
    assert value(after, "router_table_version") == table["version"]


def test_metrics_count_upstream_errors_and_show_circuits(shadow_router: Running, upstreams: dict[str, str]) -> None:
    for _ in range(2):
        response = httpx.get(f"{shadow_router.url}/echo/dead/x")
        assert response.status_code == 502
        assert (response.json()["code"], response.json()["route"], response.json()["backend"]) == (
            "connect_failed", "dead", "dead")
    refused = httpx.get(f"{shadow_router.url}/echo/dead/x")
    assert (refused.status_code, refused.json()["code"]) == (503, "circuit_open")  # two failures opened it
    samples = scrape(shadow_router)
    assert value(samples, "router_upstream_errors_total", route="dead", backend="dead", kind="connect_failed") == 2
    assert value(samples, "router_upstream_errors_total", route="dead", backend="dead", kind="circuit_open") == 1
    assert value(samples, "router_requests_total", route="dead", backend="dead", method="GET", code="502") == 2
    assert value(samples, "router_circuit_state", backend="dead", target=DEAD) == 2  # open
    for name, url in upstreams.items():
        assert ("router_circuit_state", (("backend", name), ("target", url))) in samples
        assert value(samples, "router_circuit_state", backend=name, target=url) == 0  # closed


def test_metrics_count_fallbacks(shadow_router: Running) -> None:
    before = scrape(shadow_router)
    response = httpx.get(f"{shadow_router.url}/status/503?only=catalog")
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    after = scrape(shadow_router)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("router_fallbacks_total", route="flaky", backend="monolith") == 1
    assert delta("router_upstream_errors_total", route="flaky", backend="catalog", kind="status_503") == 1
    assert delta("router_requests_total", route="flaky", backend="monolith", method="GET", code="200") == 1


def test_metrics_show_shadow_outcomes(shadow_router: Running) -> None:
    assert httpx.get(f"{shadow_router.url}/echo/mirror/shadow-metrics").status_code == 200
    wait_for(lambda: value(scrape(shadow_router), "router_shadow_total", route="mirror", outcome="queued")
             == shadow_figures(shadow_router, "mirror")["queued"] > 0, timeout=5)
    figures = shadow_figures(shadow_router, "mirror")
    samples = scrape(shadow_router)
    for outcome in ("queued", "dropped", "compared", "equal", "different", "errors"):
        assert ("router_shadow_total", (("outcome", outcome), ("route", "mirror"))) in samples
    assert value(samples, "router_shadow_total", route="mirror", outcome="queued") == figures["queued"]


def test_counters_give_per_backend_error_rate_and_latency(shadow_router: Running) -> None:
    for code in (200, 200, 200, 500):
        assert httpx.put(f"{shadow_router.url}/status/{code}").status_code == code
    counters = admin(shadow_router, "GET", "/counters").json()
    rates = counters["routes"]["rates"]
    assert (rates["requests"], rates["status"]) == (4, {"2xx": 3, "5xx": 1})
    catalog = rates["backends"]["catalog"]
    assert (catalog["requests"], catalog["errors"], catalog["error_rate"]) == (4, 1, 0.25)
    assert 0 < catalog["p50_ms"] <= catalog["p99_ms"] < 1000
    assert list(rates["backends"]) == ["catalog"]

    reset = admin(shadow_router, "POST", "/counters/reset")
    assert reset.status_code == 200
    assert "rates" not in admin(shadow_router, "GET", "/counters").json()["routes"]
    assert httpx.put(f"{shadow_router.url}/status/500").status_code == 500
    after = admin(shadow_router, "GET", "/counters").json()["routes"]["rates"]["backends"]["catalog"]
    assert (after["requests"], after["errors"], after["error_rate"]) == (1, 1, 1.0)
