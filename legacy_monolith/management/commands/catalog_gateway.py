"""``python manage.py catalog_gateway {local,remote,status}``: where orders take stock from.

``remote`` sends checkout's reservations and cancel's releases to the catalog service (its owner once the
catalog is cut over); ``local`` returns them to the monolith's own tables. See :mod:`legacy_monolith.gateway_command`
for what every gateway command does.
"""

from __future__ import annotations

from legacy_monolith.catalog import gateway as catalog
from legacy_monolith.gateway_command import GatewayCommand


class Command(GatewayCommand):
    help = ("Switch the catalog gateway: 'remote' (stock reserved at the catalog service, after cutover), "
            "'local' (the monolith's own stock, before cutover or after a rollback) or show it ('status').")
    gateway = "catalog"
    switch = catalog.SWITCH
    url_setting, token_setting = "CATALOG_SERVICE_URL", "CATALOG_SERVICE_TOKEN"
    remote_means = "orders reserve and release stock"
    problems = staticmethod(catalog.remote_configuration_problems)
    probe = staticmethod(lambda: catalog.RemoteStock().probe())
