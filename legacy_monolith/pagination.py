from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class ShopPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """Above ``max_page_size`` is capped; ``0``, ``-5`` or ``ten`` are a 400 (DRF would ignore them silently)."""
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit()) or not digits:
            raise ValidationError({self.page_size_query_param: ["Enter a whole number from 1 up."]})
        if len(digits) > len(str(self.max_page_size)):  # checked as text: int() refuses over 4300 digits
            return self.max_page_size
        return min(int(digits), self.max_page_size)
