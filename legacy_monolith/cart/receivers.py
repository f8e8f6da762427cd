from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from legacy_monolith.cart.gateway import cart_gateway
from legacy_monolith.cart.selectors import SESSION_KEY


@receiver(user_logged_in, dispatch_uid="cart.merge_anonymous_cart")
def merge_anonymous_cart(sender, request, user, **kwargs):
    """The anonymous cart the session names goes into the user's cart, through the cart gateway (locally, or at
    the cart service after the cart's cutover: a service that does not answer fails the login with 503, and the
    session, unsaved, still names the anonymous cart)."""
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(SESSION_KEY, None)
    if not cart_id:
        return
    cart_gateway().merge(cart_id, user)
