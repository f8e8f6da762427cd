"""What the checked-in parity corpus (``corpus/shop.flows``) was recorded from, shared by the script that
records it (``scripts/make_parity_corpus.py``) and the tests that replay it: the same seed and the same Host
give the same answers, so a replay against a freshly seeded shop is held to the recording byte for byte
(modulo ``corpus/rules.yaml``)."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
FLOWS = CORPUS / "shop.flows"
RULES = CORPUS / "rules.yaml"

SEED_ARGS = ("--products", "120", "--users", "3", "--orders", "5")  # seed_shop's default seed (42)
HOST = "localhost"  # sent by the recorder's clients and kept (keep_host_header): absolute links use it
LOGIN = {"email": "customer1@example.com", "password": "shop-demo-password"}

P = "/api/catalog/products/"
C = "/api/catalog/categories/"

# (method, path): anonymous catalog reads first; then a few non-catalog reads; the authenticated part
# (login, then reads with the token) is added by the script.
CATALOG_READS = [
    P, P + "?page_size=2&page=2", P + "?page_size=2&page=last", P + "?page_size=2&page=61", P + "?page=0",
    P + "?page=abc", P + "?page_size=0", P + "?page_size=x",
    P + "?page_size=2&ordering=price", P + "?page_size=2&ordering=-price,name", P + "?page_size=2&ordering=-id",
    P + "?page_size=2&ordering=-created_at&page=2", P + "?ordering=bogus",
    P + "?page_size=2&category=2", P + "?category=999", P + "?category=abc",
    P + "?page_size=2&search=knife", P + "?page_size=2&search=cr%C3%A8me", P + "?search=zzzz-nothing",
    P + "?page_size=2&min_price=10&max_price=20", P + "?min_price=abc", P + "?min_price=NaN",
    P + "?page_size=2&in_stock=true", P + "?in_stock=maybe",
    P + "?category=abc&min_price=x&in_stock=maybe&ordering=bad&page_size=0",
    P + "?search=oak&category=1&ordering=-price&page_size=2&page=1",
    P + "1/", P + "17/", P + "120/", P + "999999/", P + "abc/", P + "1/stock/",
    C + "?page_size=3", C + "1/", C + "9999/", "/api/catalog/nothing/",
]
OTHER_READS = ["/api/accounts/me/", "/api/orders/", "/api/nothing/", "/products/3/"]
AUTHENTICATED_READS = ["/api/accounts/me/", "/api/accounts/addresses/"]
