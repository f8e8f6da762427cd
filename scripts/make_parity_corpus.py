"""Record the parity corpus: ``tests/parity/corpus/shop.flows`` and its ``rules.yaml``.

Starts the shop (gunicorn on a scratch database seeded with a fixed seed), puts ``python manage.py
strangler record`` in front of it, sends a fixed list of requests through the recorder (catalog browsing,
filters, search, ordering, pages, details, 404s, invalid parameters, a few other reads, and a login followed
by authenticated reads, so the file also shows redaction), stops the recorder and checks the file.

    .venv/bin/python scripts/make_parity_corpus.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from strangler.parity.flows import read_requests  # noqa: E402
from strangler.parity.recorder import STATUS_PATH  # noqa: E402
from strangler.processes import ManagedProcess, free_port  # noqa: E402
from tests.parity import corpus_spec as spec  # noqa: E402
from tests.support.servers import PYTHON, running_shop  # noqa: E402

RULES = """\
# Comparison rules for replaying tests/parity/corpus/shop.flows (router.compare's format). Written by
# scripts/make_parity_corpus.py. The shop is seeded with a fixed seed, so ids, prices and even timestamps
# (created_at, updated_at, date_joined) are the same on every run: no body path needs ignoring. Headers:
# only those a client relies on are compared; per-response noise (Date, X-Request-ID) is listed as ignored
# so that adding it to `headers` by mistake does not turn noise into failures.
headers: [content-type, location, allow, www-authenticate]
ignore_headers: [date, x-request-id, server]
ignore: []
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=spec.CORPUS, help=f"directory (default {spec.CORPUS})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    flows = args.out / spec.FLOWS.name
    with tempfile.TemporaryDirectory(prefix="parity-corpus-") as tmp, \
            running_shop(Path(tmp), seed_args=spec.SEED_ARGS) as shop:
        port = free_port()
        recorder = ManagedProcess(
            "strangler-record",
            [PYTHON, "manage.py", "strangler", "record", "--to", str(flows), "--upstream", shop.url,
             "--listen", f"127.0.0.1:{port}", "--max-bytes", str(512 * 1024)],
            log_path=Path(tmp) / "record.log", env=shop.env, cwd=ROOT)
        with recorder:
            recorder.wait_healthy(f"http://127.0.0.1:{port}{STATUS_PATH}")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": spec.HOST}, timeout=30) as http:
                for path in [*spec.CATALOG_READS, *spec.OTHER_READS]:
                    http.get(path)
                http.head(spec.P + "1/")
                http.options(spec.P)
                login = http.post("/api/accounts/login/", json=spec.LOGIN)
                login.raise_for_status()
                token = login.json()["token"]
                http.cookies.clear()  # the login's session cookie: the reads below authenticate by token only
                for path in spec.AUTHENTICATED_READS:
                    http.get(path, headers={"Authorization": f"Token {token}"})
            status = httpx.get(f"http://127.0.0.1:{port}{STATUS_PATH}").json()
        print(recorder.log_tail(5))
    data = flows.read_bytes()
    for secret in (spec.LOGIN["password"].encode(), token.encode()):
        if secret in data:
            raise SystemExit(f"{flows}: a secret was written unredacted")
    (args.out / spec.RULES.name).write_text(RULES)
    count = len(read_requests(flows))
    print(f"wrote {flows} ({len(data)} bytes, {count} flows; recorder said {status}) and {args.out / spec.RULES.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
