"""``python manage.py cart_gateway {local,remote,status}``: where the monolith's legacy code finds carts.

``remote`` sends the cart pages, the header's item count, the login merge and checkout's read and clear of the
cart to the cart service (the carts' owner once the cart is cut over); ``local`` returns them to the monolith's
own tables. See :mod:`legacy_monolith.gateway_command` for what every gateway command does.
"""

from __future__ import annotations

from legacy_monolith.cart import gateway as cart
from legacy_monolith.gateway_command import GatewayCommand


class Command(GatewayCommand):
    help = ("Switch the cart gateway: 'remote' (carts at the cart service, after the cart's cutover), "
            "'local' (the monolith's own cart tables, before cutover or after a rollback) or show it ('status').")
    gateway = "cart"
    switch = cart.SWITCH
    url_setting, token_setting = "CART_SERVICE_URL", "CART_SERVICE_TOKEN"
    remote_means = "pages, login and checkout find carts"
    problems = staticmethod(cart.remote_configuration_problems)
    probe = staticmethod(lambda: cart.RemoteCart().probe())
