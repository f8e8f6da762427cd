"""Regression cases printed by ``strangler contract`` (each a smallest request that once differed), held to
the monolith's answers by the ``contract_env`` fixture (conftest.py). Add a case by pasting what the check
prints under "as a regression case", once the difference it shows is fixed.

These were found on 2026-12-04 against the catalog service as first committed (2af6765), 2,000 examples,
seed 7; all fixed since.
"""

from __future__ import annotations

import pytest

from strangler.contract.requests import ContractRequest
from strangler.contract.testing import ContractEnv

pytestmark = pytest.mark.slow


def test_contract_get_api_catalog_categories_vary(contract_env: ContractEnv) -> None:
    """header vary: 'Cookie' vs None: the service did not say its answers vary by cookie."""
    contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/categories/',
                                             operation='GET /api/catalog/categories/'))


def test_contract_get_api_catalog_products_format_api(contract_env: ContractEnv) -> None:
    """GET /api/catalog/products/: status 404 vs 200 (a format the monolith does not render)."""
    contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/products/',
                                             operation='GET /api/catalog/products/', query=(('format', 'api'),)))


def test_contract_get_api_catalog_products_accept_html(contract_env: ContractEnv) -> None:
    """GET /api/catalog/products/: status 406 vs 200 (Accept without JSON)."""
    contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/products/',
                                             operation='GET /api/catalog/products/',
                                             headers=(('Accept', 'text/html'),)))


def test_contract_get_api_catalog_products_foreign_host(contract_env: ContractEnv) -> None:
    """GET /api/catalog/products/: status 400 vs 200 (a Host outside ALLOWED_HOSTS)."""
    contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/products/',
                                             operation='GET /api/catalog/products/',
                                             headers=(('Host', 'contract-check.invalid'),)))


@pytest.mark.parametrize("query", [(('in_stock', 'false'),), (('category', '0'),)])
def test_contract_get_api_catalog_products_1_list_filters(contract_env: ContractEnv,
                                                          query: tuple[tuple[str, str], ...]) -> None:
    """GET /api/catalog/products/{id}/: status 404 or 400 vs 200 (the list's filters apply to a detail too)."""
    contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/products/1/',
                                             operation='GET /api/catalog/products/{id}/', query=query))


def test_contract_options_api_catalog_products_as_staff(contract_env: ContractEnv) -> None:
    """OPTIONS /api/catalog/products/: body $.actions (missing): what staff may POST, described."""
    contract_env.assert_same(ContractRequest(method='OPTIONS', path='/api/catalog/products/',
                                             operation='GET /api/catalog/products/', identity='staff'))


# Found after the fixes above (2026-12-04): the one difference the plan had accepted, and the refused credentials
# the router used to answer itself (its own 401, no Allow, ahead of the monolith's 400/404/406).

def _ordered_product() -> int:
    from legacy_monolith.orders.models import OrderLine
    from strangler.contract.environment import ALIAS

    product_id = OrderLine.objects.using(ALIAS).order_by("id").values_list("product_id", flat=True).first()
    assert product_id is not None, "the seeded shop has orders"
    return int(product_id)


def test_contract_delete_api_catalog_products_id_ordered(contract_env: ContractEnv) -> None:
    """DELETE /api/catalog/products/{id}/: status 409 vs 204 (the product has been ordered; the service asks
    the orders' owner)."""
    product_id = _ordered_product()
    request = ContractRequest(method='DELETE', path=f'/api/catalog/products/{product_id}/',
                              operation='DELETE /api/catalog/products/{id}/', identity='staff')
    contract_env.assert_same(request)
    assert contract_env.check(request).monolith.status == 409


@pytest.mark.parametrize("identity", ["bad-token", "revoked-token"])
@pytest.mark.parametrize(("method", "path", "query", "headers", "status"), [
    ("GET", "/api/catalog/products/", (), (), 401),
    ("PUT", "/api/catalog/products/", (), (), 401),                            # 401 before 405
    ("DELETE", "/api/catalog/products/999999999/", (), (), 401),              # 401 before the object's 404
    ("GET", "/api/catalog/products/1/", (("search", "zzzz-none"),), (), 401),  # before the filters' 404
    ("GET", "/api/catalog/products/", (("format", "api"),), (), 404),         # ?format= 404 before 401
    ("POST", "/api/catalog/categories/", (), (("Accept", "text/html"),), 406),  # 406 before 401
    ("GET", "/api/catalog/products/", (), (("Host", "contract-check.invalid"),), 400),  # the Host first
    ("GET", "/api/catalog/nothing-here/", (), (), 404),                        # an unknown URL
    ("OPTIONS", "/api/catalog/categories/1/", (), (), 401),
])
def test_contract_refused_credentials_in_the_monolith_s_order(
        contract_env: ContractEnv, identity: str, method: str, path: str, query: tuple[tuple[str, str], ...],
        headers: tuple[tuple[str, str], ...], status: int) -> None:
    request = ContractRequest(method=method, path=path, query=query, identity=identity, headers=headers)
    contract_env.assert_same(request)
    outcome = contract_env.check(request)
    assert outcome.monolith.status == status
