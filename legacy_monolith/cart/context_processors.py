from legacy_monolith.cart.selectors import cart_for_request, cart_item_count


def cart_summary(request):
    """The item count in every page's header; lazy, so pages that never show it pay nothing."""
    if not hasattr(request, "session"):
        return {}
    return {"cart_count": lambda: cart_item_count(cart_for_request(request))}
