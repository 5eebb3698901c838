"""`tambon web ...`: run the verify site."""

from __future__ import annotations

import copy
from typing import Annotated

import typer

app = typer.Typer(help="Verify site, grants dashboard and wallet pages.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default TAMBON_WEB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default TAMBON_WEB_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default TAMBON_WEB_WORKERS)")] = None,
    access_log: Annotated[
        bool, typer.Option(help="one line a request on stdout (time, client, request, status)")
    ] = True,
) -> None:
    """Serve the site with uvicorn (one worker per core suits the verify page)."""
    import uvicorn

    from frontend.errors import BadInput
    from frontend.http import HTTP_PROTOCOL, LOOP
    from frontend.settings import get_web_settings
    from tambon.chain import Deployment
    from tambon.settings import get_settings

    web = get_web_settings()
    Deployment.load(get_settings().deployment_file)  # fail early with a clear message
    count = workers or web.workers
    if count < 1:
        raise BadInput("--workers must be at least 1")
    typer.echo(f"verify site on http://{host or web.host}:{port or web.port} ({count} worker(s))")
    uvicorn.run(
        "frontend.app:create_app",
        factory=True,
        http=HTTP_PROTOCOL,
        loop=LOOP,
        host=host or web.host,
        port=port or web.port,
        workers=count,
        log_config=_log_config(access_log),
        access_log=access_log,
    )


def _log_config(access_log: bool) -> dict:
    """uvicorn's logging with warnings only, plus a timestamped access log when asked."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["fmt"] = '%(asctime)s %(client_addr)s "%(request_line)s" %(status_code)s'
    config["formatters"]["access"]["datefmt"] = "%Y-%m-%dT%H:%M:%S%z"
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    return config
