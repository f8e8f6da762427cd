"""``python manage.py orders_gateway {local,remote,status}``: where the checkout page places orders and who
follows the shipments.

``remote`` (after the orders' cutover) sends the checkout page's orders to the orders service and leaves the
shipments' following to it (by event); ``local`` returns both to the monolith, and then moves every order whose
shipment changed while the service followed them, unseen by it (``receivers.follow_missed_shipments``). See
:mod:`legacy_monolith.gateway_command` for what every gateway command does.
"""

from __future__ import annotations

from legacy_monolith.gateway_command import GatewayCommand
from legacy_monolith.orders import gateway as orders
from legacy_monolith.orders.receivers import follow_missed_shipments


class Command(GatewayCommand):
    help = ("Switch the orders gateway: 'remote' (the checkout page's orders placed by the orders service, which "
            "follows the shipments; after the cutover), 'local' (the monolith's own, before the cutover or after a "
            "rollback) or show it ('status').")
    gateway = "orders"
    switch = orders.SWITCH
    url_setting, token_setting = "ORDERS_SERVICE_URL", "ORDERS_SERVICE_TOKEN"
    remote_means = "the checkout page places orders and the shipments are followed"
    problems = staticmethod(orders.remote_configuration_problems)
    probe = staticmethod(lambda: orders.RemoteOrders().probe())

    def switched(self, mode: str) -> None:
        if mode == "local":
            moved = follow_missed_shipments()
            self.stdout.write(f"orders gateway: {len(moved)} order(s) moved to their shipment's status"
                              + (f": {', '.join(f'{pk} {status}' for pk, status in sorted(moved.items()))}"
                                 if moved else ""))
