"""``ttom serve``: ttom for other agent systems (MCP) and as an HTTP job API."""

from __future__ import annotations

import json
from typing import Literal

import typer

from ttom.cli.options import MODEL_HELP, check_device

app = typer.Typer(help="Serve ttom to other agent systems.", no_args_is_help=True)


@app.command("mcp")
def serve_mcp(
    transport: Literal["stdio", "streamable-http"] = typer.Option("stdio", "--transport",
                                  help="How clients connect."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    service_url: str | None = typer.Option(None, "--service-url", envvar="TTOM_SERVICE_URL",
                                           help="Send the jobs to a running 'ttom serve api' at this URL (results "
                                                "as its URLs and as MCP resources) instead of running them here."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="TTOM_API_KEY",
                                       help="The service's API key (with --service-url)."),
) -> None:
    """An MCP server (mcp >= 2): submit_video, job_status, job_result, resume_job (long jobs) and generate_video (one call)."""
    from ttom.tools.mcp_server import build_server

    server = build_server(service_url=service_url, api_key=api_key)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


@app.command("api")
def serve_api(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; any other than loopback needs an API key."),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    api_key: str | None = typer.Option(None, "--api-key", envvar="TTOM_API_KEY",
                                       help="Require 'Authorization: Bearer KEY' on every /v1 call."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP + " The jobs' default (TTOM_MODEL)."),
    device: str | None = typer.Option(None, "--device", callback=check_device,
                                      help="Device of the in-process worker: auto | cpu | cuda | cuda:N."),
    defaults: str | None = typer.Option(None, "--defaults", help="RunOptions every job starts from, as JSON "
                                                                 "(e.g. '{\"steps\": 30, \"critic\": \"shapes\"}')."),
    database_url: str | None = typer.Option(None, "--database-url", help="One PostgreSQL for the memory, the "
                                            "agent's checkpoints and the jobs (sets TTOM_DATABASE_URL and "
                                            "TTOM_CHECKPOINT_URL); required with --ray on several machines."),
    jobs_url: str | None = typer.Option(None, "--jobs-url", help="Jobs database (default: the memory's PostgreSQL, "
                                        "else SQLite in the cache)."),
    max_queue: int = typer.Option(100, "--max-queue", min=1, help="Queued jobs beyond this are refused (429)."),
    ray: str | None = typer.Option(None, "--ray", help="Run jobs on Ray actors: 'local' starts a cluster on this "
                                   "machine; else a cluster address (ray://HOST:10001, or 'auto')."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Ray actors (default: one per GPU; 1 on CPU)."),
    gpus_per_worker: float | None = typer.Option(None, "--gpus-per-worker", min=0,
                                                 help="GPUs per actor (default: 1 when the cluster has GPUs, else 0)."),
    num_cpus: int | None = typer.Option(None, "--num-cpus", min=1, help="CPUs of a local Ray cluster."),
    preload: list[str] = typer.Option([], "--preload", help="Models each worker loads at start (repeat it); "
                                      "default: the jobs' default model."),
    no_preload: bool = typer.Option(False, "--no-preload", help="Load models on first use only."),
    log_level: Literal["critical", "error", "warning", "info", "debug"] = typer.Option("info", "--log-level"),
) -> None:
    """The HTTP job API (POST /v1/videos, GET /v1/videos/{id}, .../content, .../events, list, cancel, resume).

    One process with an in-process worker by default; --ray runs the jobs on Ray actors (one per GPU),
    with one PostgreSQL shared by all. Docs at http://HOST:PORT/docs.
    """
    import logging

    from ttom.config import get_settings
    from ttom.errors import ConfigError
    from ttom.serve.config import ServeConfig, check_bind

    check_bind(host, api_key)
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError("the HTTP service needs the serve extra: pip install 'ttom[serve]'") from None
    try:
        opts = json.loads(defaults) if defaults else {}
    except ValueError as e:
        raise ConfigError(f"--defaults is not JSON: {e}") from None
    if not isinstance(opts, dict):
        raise ConfigError("--defaults must be a JSON object of RunOptions fields")
    if model:
        opts["model"] = model
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url, "checkpoint_url": database_url})
    from ttom.agents.state import check_options

    check_options(opts)  # a bad --defaults is refused now, naming the field
    config = ServeConfig(host=host, port=port, api_key=api_key or None, jobs_url=jobs_url, defaults=opts,
                         device=device, max_queue=max_queue, ray_address=ray, workers=workers,
                         gpus_per_worker=gpus_per_worker, ray_num_cpus=num_cpus,
                         preload=[] if no_preload else (preload or [opts.get("model") or settings.model]))
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ttom.serve.app import create_app

    app_ = create_app(config, settings)
    svc = app_.state.service
    typer.echo(f"ttom API and chat page on http://{host}:{port}/ (docs: /docs); jobs: {_masked(svc.store.url)}; "
               f"{svc.workers} worker(s){' on Ray' if ray else ' in this process'}"
               f"{'; API key required' if api_key else ''}", err=True)
    # an open event stream must not hold the server up for ever when it is asked to stop
    uvicorn.run(app_, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


def _masked(url: str) -> str:
    from ttom.config import mask_url

    return mask_url(url) or url
