import logging

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from legacy_monolith.cart.gateway import PENDING_MERGE, cart_gateway
from legacy_monolith.cart.selectors import SESSION_KEY
from legacy_monolith.exceptions import CartUnavailable

log = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="cart.merge_anonymous_cart")
def merge_anonymous_cart(sender, request, user, **kwargs):
    """The anonymous cart the session names goes into the user's cart, through the cart gateway (locally, or at
    the cart service after the cart's cutover). A cart service that does not answer does not fail the login: the
    session keeps the anonymous cart's id as a pending merge, which the gateway does on the next request that needs
    the cart (``gateway.owner_of``); nothing is lost meanwhile."""
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(SESSION_KEY, None)
    if not cart_id:
        return
    try:
        cart_gateway().merge(cart_id, user)
    except CartUnavailable:
        log.warning("login merge of anonymous cart %s deferred: the cart service did not answer", cart_id)
        request.session[PENDING_MERGE] = cart_id
