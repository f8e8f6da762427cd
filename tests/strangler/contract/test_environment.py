"""The contract check's view of a plan that moves several routes (issue 14): every reads and writes route is a
moved route (its requests are generated and compared), each is put on the side's backend in that side's
routes file, and a route the routes file lacks is named. Nothing is started: ``Environment`` reads the plan
and the routes file when it is made (the processes start on ``with``; tests/strangler/contract/test_contract.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from strangler.contract.environment import Environment
from strangler.contract.exceptions import ContractError
from strangler.contract.launch import routes_for
from strangler.planfile.model import ContractGate
from strangler.planfile.reader import read_plan_file
from tests.strangler.plans.conftest import catalog_doc

WRITES = ["POST", "PUT", "PATCH", "DELETE"]
ROUTES = {
    "default": "monolith",
    "backends": {"monolith": {"targets": "http://127.0.0.1:8000"}, "catalog": {"targets": "http://127.0.0.1:8101"}},
    "routes": {"products-reads": {"path": "/api/catalog/products/", "methods": ["GET"], "backend": "monolith"},
               "products-writes": {"path": "/api/catalog/products/", "methods": WRITES, "backend": "monolith"},
               "categories-reads": {"path": "/api/catalog/categories/", "methods": ["GET"], "backend": "monolith"},
               "categories-writes": {"path": "/api/catalog/categories/", "methods": WRITES, "backend": "monolith"},
               "orders-writes": {"path": "/api/orders/", "methods": WRITES, "backend": "monolith"}},
}


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[Callable[..., Environment]]:
    made: list[Environment] = []

    def make(endpoints: dict[str, Any], *, canaries: bool = True) -> Environment:
        routes = tmp_path / "routes.yaml"
        routes.write_text(json.dumps(ROUTES), encoding="utf-8")  # YAML, without the aliases of a shared list
        doc = copy.deepcopy(catalog_doc())
        doc["endpoints"] = endpoints
        if not canaries:
            doc["steps"] = [s for s in doc["steps"] if not (isinstance(s, dict) and "canary" in s)]
        path = tmp_path / "plan.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        env = Environment(read_plan_file(path, executor=True), ContractGate(routes=str(routes)), root=tmp_path,
                          say=lambda line: None, workdir=tmp_path / "work")
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def test_every_route_of_the_plan_is_moved_and_covered(environment: Callable[..., Environment]) -> None:
    env = environment({"reads": ["products-reads", "categories-reads"],
                       "writes": ["products-writes", "categories-writes"]})
    assert env.moved == ["products-reads", "categories-reads", "products-writes", "categories-writes"]
    for method, path in (("GET", "/api/catalog/products/"), ("GET", "/api/catalog/categories/3/"),
                         ("POST", "/api/catalog/products/"), ("DELETE", "/api/catalog/categories/3/")):
        assert env.covered(method, path), (method, path)
    assert not env.covered("POST", "/api/orders/")  # a route the plan does not move
    assert not env.covered("GET", "/api/orders/")  # no route at all: the default backend's

    for side, backend in (("monolith", "monolith"), ("service", "catalog")):
        urls = {"monolith": "http://127.0.0.1:18000", "service": "http://127.0.0.1:18101"}
        routed = routes_for(env.routes.raw, env.plan, env.moved, side, urls, 18080, 18081)["routes"]
        assert {name: (r["path"], r["backend"]) for name, r in routed.items()} == {
            "products-reads": ("/api/catalog/products/", backend),
            "categories-reads": ("/api/catalog/categories/", backend),
            "products-writes": ("/api/catalog/products/", backend),
            "categories-writes": ("/api/catalog/categories/", backend)}


def test_a_route_in_both_lists_is_moved_once(environment: Callable[..., Environment]) -> None:
    env = environment({"reads": ["products-reads", "categories-writes"], "writes": ["categories-writes"]},
                      canaries=False)  # one route for reads and writes: only without a canary
    assert env.moved == ["products-reads", "categories-writes"]


def test_routes_the_routes_file_lacks_are_named(environment: Callable[..., Environment]) -> None:
    with pytest.raises(ContractError) as caught:
        environment({"reads": ["products-reads", "tags-reads"], "writes": ["products-writes", "tags-writes"]})
    assert "endpoints: no route 'tags-reads', 'tags-writes' in " in str(caught.value)
