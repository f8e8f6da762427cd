#!/usr/bin/env bash
# The whole test command (`make test`, and what CI runs): lint, import contracts, migrations in step with
# models, the suite on SQLite, then the suite again on PostgreSQL when a server answers.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL="${TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/shop}"
PYTEST_ARGS=(-n "${PYTEST_WORKERS:-2}" --durations=10 "$@")

echo "== ruff"
"$BIN/ruff" check .
echo "== mypy --strict (router/, extracted/, strangler/)"
"$BIN/mypy"
echo "== mypy --strict as Python 3.10 (the package's oldest; no 3.10 interpreter here to run the suite on)"
"$BIN/mypy" --python-version 3.10 router strangler
echo "== import contracts"
"$BIN/lint-imports"
echo "== migrations match the models"
env -u MONOLITH_DATABASE_URL "$BIN/python" manage.py makemigrations --check --dry-run

echo "== test suite on SQLite"
env -u MONOLITH_DATABASE_URL "$BIN/python" -m pytest "${PYTEST_ARGS[@]}"

if "$BIN/python" - "$PG_URL" <<'PY'
import sys
import psycopg
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
try:
    psycopg.connect(urlunsplit((parts.scheme, parts.netloc, "/postgres", "", "")), connect_timeout=3).close()
except psycopg.Error as exc:
    print(f"no PostgreSQL server answers at {parts.netloc}: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
PY
then
  # Only what touches a database runs again: the router and its tests know none, and neither do the plan
  # executor's unit tests (their state store is always SQLite), the contract's request generation, nor the
  # catalog and cart services' own unit tests (their database is a SQLite file of their own); the service tests
  # that follow MONOLITH_DATABASE_URL's kind (scratch_database) or use the monolith's test database do run.
  DB_TESTS=()
  for dir in tests/legacy_monolith tests/e2e tests/strangler/datasplit tests/strangler/contract tests/parity \
             tests/extracted/catalog/test_contract.py tests/extracted/catalog/test_edit_races.py \
             tests/extracted/catalog/test_reservations.py tests/extracted/catalog/test_internal_products.py \
             tests/extracted/cart/test_contract.py tests/extracted/cart/test_plan.py \
             tests/extracted/cart/test_through_the_router.py tests/extracted/cart/test_internal.py \
             tests/extracted/orders/test_contract.py \
             tests/extracted/catalog/events/test_outbox.py tests/extracted/catalog/events/test_crashes.py \
             tests/extracted/catalog/test_oversell.py; do
    [ -e "$dir" ] && DB_TESTS+=("$dir")
  done
  PYTEST_ARGS+=(--ignore=tests/strangler/contract/test_generation.py)
  # The cart's, orders', shipping's and accounts' plans end to end (up to four plans in a row, minutes each;
  # their stacks are SQLite whatever MONOLITH_DATABASE_URL says): once, in the
  # SQLite pass (the catalog's runs on PostgreSQL too; the cart's passed there by hand, 2026-12-05, as did the
  # saga's crash and chaos tests with DBOS's system database on PostgreSQL: tests/extracted/orders follows
  # MONOLITH_DATABASE_URL's kind when run by hand).
  PYTEST_ARGS+=(--ignore=tests/e2e/test_orders_migration.py --ignore=tests/e2e/test_cart_migration.py
                --ignore=tests/e2e/test_shipping_migration.py --ignore=tests/e2e/test_accounts_migration.py)
  # These pick their own engines (databases of their own on SQLite, PostgreSQL and MariaDB), whatever the
  # monolith's kind: the SQLite pass has run them all already.
  PYTEST_ARGS+=(--ignore=tests/strangler/datasplit/test_composite_keys.py
                --ignore=tests/strangler/datasplit/test_snapshots.py)
  echo "== database tests on PostgreSQL ($PG_URL): ${DB_TESTS[*]}"
  MONOLITH_DATABASE_URL="$PG_URL" "$BIN/python" -m pytest "${PYTEST_ARGS[@]}" "${DB_TESTS[@]}"
else
  echo "== SKIPPED the PostgreSQL pass: no server answers (set TEST_POSTGRES_URL to point at one)"
fi
