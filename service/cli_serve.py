"""`shelfsight serve`: the HTTP API and web page (registered on the main app)."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from shelfsight.core.settings import settings
from shelfsight.service import logs
from shelfsight.service.cli_common import HomeOpt, command, open_workspace
from shelfsight.service.http.edge import LOOPBACK_NAMES

log = logging.getLogger("shelfsight.serve")


@command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes; each loads the index and models.")
    ] = 1,
    home: HomeOpt = None,
) -> None:
    """Serve the API (OpenAPI at /schema) and the web page at /."""
    import uvicorn

    shelf = open_workspace(home)
    shelf.require_index()
    ws = shelf.workspace
    # Worker processes build their own app from the environment.
    os.environ["SHELFSIGHT_HOME"] = str(ws.home)
    os.environ["SHELFSIGHT_WORKERS"] = str(workers)
    os.environ["SHELFSIGHT_VERBOSE"] = str(logs.verbosity())
    # In the log's one format, and shown without -v: where to point a browser.
    log.setLevel(logging.INFO)
    if not settings().api_key:
        log.warning("write endpoints are off: SHELFSIGHT_API_KEY is not set")
    if host not in LOOPBACK_NAMES and not os.environ.get("SHELFSIGHT_ALLOWED_HOSTS"):
        # Reached by names only the operator knows: any Host header, said out loud.
        os.environ["SHELFSIGHT_ALLOWED_HOSTS"] = "*"
        log.warning(
            "listening on %s with any Host header accepted: set SHELFSIGHT_ALLOWED_HOSTS "
            "to the names this server is reached by",
            host,
        )
    log.info("serving", extra={"fields": {"home": ws.home, "url": f"http://{host}:{port}/"}})
    uvicorn.run(
        "shelfsight.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn's records go through the one logfmt handler (no config of its own); the
        # access lines are ours (service/http/access_log.py), with the duration uvicorn lacks.
        log_config=None,
        log_level="info" if logs.verbosity() else "warning",
        access_log=False,
    )
