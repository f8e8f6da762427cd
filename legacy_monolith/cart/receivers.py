from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from legacy_monolith.cart import services
from legacy_monolith.cart.models import Cart
from legacy_monolith.cart.selectors import SESSION_KEY


@receiver(user_logged_in, dispatch_uid="cart.merge_anonymous_cart")
def merge_anonymous_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(SESSION_KEY, None)
    anonymous = Cart.objects.filter(pk=cart_id, user__isnull=True).first() if cart_id else None
    if anonymous is None:
        return
    target, _ = Cart.objects.get_or_create(user=user)
    services.cart_merge(anonymous, target)
