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
