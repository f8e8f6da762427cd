class IdConverter:
    """A database id: digits, and few enough of them to fit a 64-bit column (longer ones are a plain 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
