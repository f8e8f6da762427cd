"""``python -m router serve|check|export``: run the strangler facade, validate a routes file, or export it
to an nginx configuration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from router import config as config_module
from router.exceptions import ConfigError

DEFAULT_CONFIG = Path(__file__).with_name("routes.yaml")


def _load(path: Path) -> config_module.RouterConfig | None:
    """The file's configuration, or None after printing its problems (file, field, reason) to stderr."""
    try:
        return config_module.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def _check(path: Path) -> int:
    cfg = _load(path)
    if cfg is None:
        return 1
    table = cfg.table
    print(f"{path}: valid (table version {table.version}); listen {cfg.listen}, admin {cfg.admin.listen}")
    print("backends:")
    for backend in table.backends.values():
        print(f"  {backend.name:<16} {', '.join(backend.targets)}  ({backend.balance}, health "
              f"{backend.health_path} every {backend.health_interval:g}s)")
    print("routes, most specific first:")
    for route in table.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "*"
        extras = [f"canary {route.canary:g}%" if route.canary is not None else "",
                  f"fallback {route.fallback}" if route.fallback else "",
                  f"shadow {route.shadow.backend}" if route.shadow else "",
                  f"header {route.header[0]}" + (f"={route.header[1]}" if route.header[1] else "")
                  if route.header else ""]
        print(f"  {route.name:<16} {route.pattern.kind:<6} {route.pattern.text:<32} {methods:<12} -> "
              f"{route.backend}  {' '.join(e for e in extras if e)}".rstrip())
    print(f"  {'(default)':<16} {'':<6} {'everything else':<32} {'*':<12} -> {table.default}")
    for warning in cfg.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


MAX_WORKERS = 256


def _workers(text: str) -> int:
    """``--workers``/``ROUTER_WORKERS``: a whole number of processes, 1 to MAX_WORKERS."""
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes (1 to {MAX_WORKERS})")
    return int(text)


def _default_workers() -> int:
    return os.cpu_count() or 1


def _serve(path: Path, listen: str | None, admin_listen: str | None, transport: str, access_log: bool,
           workers: int) -> int:
    from router.server import serve

    cfg = _load(path)
    if cfg is None:
        return 1
    serve(cfg, path, listen=listen, admin_listen=admin_listen, transport=transport, access_log=access_log,
          workers=workers)
    return 0


def _export(target: str, path: Path, output: Path | None, prefix: str, listen: str | None) -> int:
    from router.export import render_nginx

    cfg = _load(path)
    if cfg is None:
        return 1
    text, warnings = render_nginx(cfg, prefix=prefix, listen=listen)
    for warning in [*cfg.warnings, *warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"{output}: {target} configuration for {path} (nginx -c {output}; runtime files in {prefix})",
              file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    from router.upstream.transports import DEFAULT_TRANSPORT, TRANSPORTS

    parser = argparse.ArgumentParser(prog="python -m router", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the router")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="routes file (default: %(default)s)")
    serve.add_argument("--listen", help="host:port, overriding the file's 'listen'")
    serve.add_argument("--admin-listen", help="host:port of the admin API, overriding the file's 'admin.listen'")
    serve.add_argument("--transport", choices=TRANSPORTS, default=DEFAULT_TRANSPORT,
                       help="upstream client on the forwarding path (default: %(default)s, the router's own "
                            "HTTP/1.1 pool; aiohttp and httpx for comparison)")
    serve.add_argument("--no-access-log", action="store_true", help="skip the per-request JSON log line")
    serve.add_argument("--workers", type=_workers, default=None,
                       help="processes serving the public socket (default: $ROUTER_WORKERS, else one per core: "
                            f"{_default_workers()} here); 1 is a single process doing everything, more add a "
                            "primary process for the admin API and the control plane")
    check = commands.add_parser("check", help="validate a routes file and print the resolved table")
    check.add_argument("file", type=Path)
    from router.export import DEFAULT_PREFIX

    export = commands.add_parser("export", help="write another proxy's configuration for a routes file")
    export.add_argument("target", choices=["nginx"])
    export.add_argument("file", type=Path)
    export.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    export.add_argument("--prefix", default=DEFAULT_PREFIX,
                        help="directory for nginx's pid, logs and temp files (default: %(default)s)")
    export.add_argument("--listen", help="host:port, overriding the file's 'listen'")
    args = parser.parse_args(argv)
    if args.command == "serve" and args.workers is None:
        from_env = os.environ.get("ROUTER_WORKERS", "").strip()
        try:
            args.workers = _workers(from_env) if from_env else _default_workers()
        except argparse.ArgumentTypeError as exc:
            parser.error(f"ROUTER_WORKERS: {exc}")
    if args.command == "check":
        return _check(args.file)
    if args.command == "export":
        return _export(args.target, args.file, args.output, args.prefix, args.listen)
    return _serve(args.config, args.listen, args.admin_listen, args.transport, not args.no_access_log,
                  args.workers)


if __name__ == "__main__":
    sys.exit(main())
