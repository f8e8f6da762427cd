"""Stand-alone: write through a router for a while, then check every write::

    python -m scripts.ledger --base http://127.0.0.1:8080 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import httpx

from scripts.ledger.writers import WriteLedger


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.ledger",
                                     description="Write through a router for a while, then check every write.")
    parser.add_argument("--base", default="http://127.0.0.1:8080", help="the router (or a backend)")
    parser.add_argument("--email", default="staff@example.com")
    parser.add_argument("--password", default="shop-demo-password")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--products", type=int, default=12)
    parser.add_argument("--prefix", default="ledger")
    args = parser.parse_args()
    with httpx.Client(base_url=args.base, timeout=30) as http:
        login = http.post("/api/accounts/login/", json={"email": args.email, "password": args.password})
        login.raise_for_status()
    ledger = WriteLedger(args.base, login.json()["token"], workers=args.workers, products=args.products,
                         prefix=args.prefix)
    ledger.start()
    time.sleep(args.seconds)
    ledger.stop()
    report = ledger.check(args.base)
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
