"""`shelfsight serve`: the HTTP API and web page (registered on the main app)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from shelfsight.indexer.settings import settings
from shelfsight.service.cli_common import HomeOpt, command, open_workspace


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
    if not settings().api_key:
        typer.echo("note: SHELFSIGHT_API_KEY is not set, so write endpoints are off", err=True)
    typer.echo(f"serving {ws.home} on http://{host}:{port}/", err=True)
    uvicorn.run(
        "shelfsight.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
