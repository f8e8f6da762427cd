"""A write ledger: clients that write to the catalog through the router while a plan moves it, recording what
each was told, and a checker that holds the final state to that record.

"An acknowledged write is never lost" is checked from the client's side, the only side that matters: every
write answered 2xx must be in the data, every write refused must not be, and a write whose answer never came
may be either. The workload is made to hit the races that lose writes:

- stock changes (+1/-1, so any subset of the ambiguous ones gives a distinct total) on every ledger product,
  from every worker;
- edits (PATCH of name and price) of each product by one worker only, so their order is known, while the
  other workers change the same product's stock (a whole-row save in an edit undoes a stock change);
- creates of new products, and deletes of some of them by the worker that created them.

Its products are its own (SKUs ``<prefix>-<run>-...``, created by the ledger with 10,000 in stock): no other
traffic touches them, so the record is the whole truth about them. They are inactive unless asked otherwise,
so shoppers never see them: listings keep their counts while the ledger creates and deletes (a shadow
comparing what shoppers see would otherwise count every create the service has not received yet as a
difference), and the checker reads as staff, who see inactive products too. Used by the crash tests
(tests/e2e/test_cutover_crashes.py) and by the demo (scripts/demo.py). Stand-alone::

    python -m scripts.ledger --base http://127.0.0.1:8080 --seconds 20

The package, by what each module holds: ``record`` (the record of writes and what clients were told, the
report, how an answer is classified), ``checks`` (the checker: pure, a record and a read function),
``reader`` (the read function over HTTP), ``writers`` (``WriteLedger``: set-up, worker threads, ``check``)
and ``__main__`` (the stand-alone command).
"""

from __future__ import annotations

from scripts.ledger.checks import CREATED_FIELDS, check_record
from scripts.ledger.reader import CATEGORIES, CLIENT_TIMEOUT, PRODUCTS, HttpReader
from scripts.ledger.record import (
    ACKNOWLEDGED,
    AMBIGUOUS,
    REFUSED,
    UNSURE_ROUTER_CODES,
    Found,
    LedgerError,
    LedgerRecord,
    LedgerReport,
    ReadFn,
    Tracked,
    Write,
    classify,
)
from scripts.ledger.writers import INITIAL_STOCK, SETUP_PATIENCE, SKU_MAX, WriteLedger

__all__ = ["ACKNOWLEDGED", "AMBIGUOUS", "CATEGORIES", "CLIENT_TIMEOUT", "CREATED_FIELDS", "INITIAL_STOCK", "PRODUCTS",
           "REFUSED", "SETUP_PATIENCE", "SKU_MAX", "UNSURE_ROUTER_CODES", "Found", "HttpReader", "LedgerError",
           "LedgerRecord", "LedgerReport", "ReadFn", "Tracked", "Write", "WriteLedger", "check_record", "classify"]
