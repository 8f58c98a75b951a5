"""casework serve: the HTTP service (see service/)."""

from __future__ import annotations

import os

import click

from projections.i18n import _

from .options import db_option, open_app
from .output import fail


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put a reverse proxy "
                   "with TLS in front).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port (several also on PostgreSQL: each "
                   "request is checked against the shared database).")
@click.option("--pool", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests one process handles at once (an engine each).")
@click.option("--max-body", default=256 * 1024, show_default=True, metavar="BYTES",
              type=click.IntRange(1024, 64 * 1024 * 1024),
              help="Largest request body; larger ones get 413.")
@click.option("--webhooks/--no-webhooks", default=True, show_default=True,
              help="Deliver webhooks from this server (see casework webhooks).")
@click.option("--root-path", default="", metavar="PATH",
              help="The path prefix a reverse proxy serves it under (e.g. /casework).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              metavar="IPS", help="Proxies whose X-Forwarded-* headers are trusted.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@db_option
def serve_command(host: str, port: int, processes: int, pool: int, max_body: int,
                  webhooks: bool, root_path: str, forwarded_allow_ips: str, log_level: str,
                  db: str | None) -> None:
    """Serve the JSON API, Open311 GeoReport v2 and webhooks over HTTP (uvicorn).

    Every request needs a token (casework tokens create) and acts as its actor. The OpenAPI
    document is at /openapi.json.

    \b
    Example:
      casework serve --db postgresql://casework@db/casework --port 8000 --processes 2
    """
    try:
        import uvicorn

        import service.app  # noqa: F401 (the web stack is an extra: say so now)
    except ImportError as missing:
        fail(_("the HTTP service needs its extra ({module} is missing): "
               "pip install 'casework[service]'").format(module=missing.name), 1)
    open_app(db, create=True).close()  # a bad URL fails here, in one line
    if db:
        os.environ["CASEWORK_DB"] = db
    os.environ["CASEWORK_SERVE_POOL"] = str(pool)
    os.environ["CASEWORK_SERVE_MAX_BODY"] = str(max_body)
    os.environ["CASEWORK_SERVE_WEBHOOKS"] = "1" if webhooks else "0"
    uvicorn.run("service.app:from_environment", factory=True, host=host, port=port,
                workers=processes, root_path=root_path, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips, log_level=log_level)
