"""``ttom serve``: ttom for other agent systems."""

from __future__ import annotations

from typing import Literal

import typer

app = typer.Typer(help="Serve ttom to other agent systems.", no_args_is_help=True)


@app.command("mcp")
def serve_mcp(
    transport: Literal["stdio", "streamable-http"] = typer.Option("stdio", "--transport",
                                  help="How clients connect."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
) -> None:
    """An MCP server (mcp >= 2): submit_video, job_status, job_result, resume_job (long jobs) and generate_video (one call)."""
    from ttom.tools.mcp_server import build_server

    server = build_server()
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
