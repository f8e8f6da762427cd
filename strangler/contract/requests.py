"""One generated request, and the ways it is shown to a person: a ``curl`` pair and a pytest case.

A :class:`ContractRequest` is plain data (frozen, hashable): the same value is sent to both sides, memoised
while shrinking, printed, and rebuilt by a pytest case from its ``repr``-like source. Identities are named
(``anonymous``, ``user``, ``staff``, ``bad-token``, ``revoked-token``), not carried as credentials: each side of
a run turns the name into the credential it has for it, so a shrunk request stays readable and replayable
elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from urllib.parse import quote

IDENTITIES = ("anonymous", "user", "staff", "bad-token", "revoked-token")
REFUSED = frozenset({"bad-token", "revoked-token"})  # credentials the monolith refuses
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ContractRequest:
    method: str
    path: str  # as sent: already percent-encoded where needed
    operation: str = ""  # "GET /api/catalog/products/{id}/": the schema's operation it was generated from
    query: tuple[tuple[str, str], ...] = ()
    identity: str = "anonymous"
    headers: tuple[tuple[str, str], ...] = ()  # besides the identity's (Accept, Content-Type, Host...)
    body: bytes | None = None

    @property
    def writes(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def target(self) -> str:
        """The path and query string as they go on the request line."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def describe(self) -> str:
        """One line: ``POST /api/catalog/products/?a=1 as staff [Content-Type: ..., 23-byte body]``."""
        extras = [f"{k}: {v}" for k, v in self.headers]
        if self.body is not None:
            extras.append(f"body {_short_body(self.body)}")
        return f"{self.method} {self.target} as {self.identity}" + (f" [{'; '.join(extras)}]" if extras else "")

    # -- for people ---------------------------------------------------------------------------------------

    def curl(self, base_url: str, credential: tuple[str, str] | None = None) -> str:
        """A ready ``curl`` command against ``base_url``; ``credential``: the identity's header there
        (a placeholder such as ``$STAFF_TOKEN`` stays unquoted for the shell to fill in)."""
        parts = ["curl", "-sS", "-i", "-X", self.method]
        if self.method == "HEAD":
            parts = ["curl", "-sS", "-I"]
        parts.append(shlex.quote(base_url.rstrip("/") + self.target))
        headers = list(self.headers)
        if self.header("accept") is None:
            headers.append(("Accept", ""))  # curl sends Accept: */* unless told; the request had none
        for name, value in headers:
            parts += ["-H", shlex.quote(f"{name}: {value}" if value else f"{name}:")]
        if credential is not None:
            name, value = credential
            parts += ["-H", f'"{name}: {value}"' if "$" in value else shlex.quote(f"{name}: {value}")]
        if self.body is not None:
            if self.header("content-type") is None:
                parts += ["-H", shlex.quote("Content-Type:")]  # curl would add a form type of its own
            parts += ["--data-binary", _shell_bytes(self.body)]
        return " ".join(parts)

    def source(self) -> str:
        """Python source that builds this request (for a pytest case)."""
        fields = [f"method={self.method!r}", f"path={self.path!r}", f"operation={self.operation!r}"]
        if self.query:
            fields.append(f"query={self.query!r}")
        if self.identity != "anonymous":
            fields.append(f"identity={self.identity!r}")
        if self.headers:
            fields.append(f"headers={self.headers!r}")
        if self.body is not None:
            fields.append(f"body={self.body!r}")
        return "ContractRequest(" + ", ".join(fields) + ")"

    def test_name(self) -> str:
        """``test_contract_get_api_catalog_products_1a2b3c``: readable, and unique (the suffix is the request's
        digest), so cases printed by different runs can sit in one file."""
        words = re.sub(r"[^a-z0-9]+", "_", f"{self.method} {self.path}".lower()).strip("_")
        digest = hashlib.sha256(self.source().encode()).hexdigest()[:6]
        return f"test_contract_{words[:60]}_{digest}"


def _short_body(body: bytes) -> str:
    text = body[:80].decode("utf-8", "replace")
    return repr(text + ("..." if len(body) > 80 else ""))


def _shell_bytes(body: bytes) -> str:
    """A shell word holding exactly ``body``: quoted text when printable, else $'\\x..' escapes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(chr(b) if 32 <= b < 127 and chr(b) not in "'\\" else f"\\x{b:02x}" for b in body) + "'"
