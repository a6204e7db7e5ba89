"""Command line: `python -m serving [--host H] [--port P] [--workers N]` runs the service with uvicorn."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from asgi_correlation_id import CorrelationIdFilter
from pydantic import ValidationError
from typer.core import TyperCommand
from uvicorn.config import LOGGING_CONFIG

from classifiers import store
from classifiers.listening import listen_problem
from classifiers.redaction import RedactingFilter
from serving import early_stop
from serving.http_protocol import limited_httptools
from serving.settings import ENV_PREFIX, ServingSettings

# The packages whose modules log in a server process (a loaded model's code is the classifiers package, never training):
# a record of any other reaches no handler, its INFO lost and its warnings printed bare, the URI's secret unmasked.
# (asgi_correlation_id warns of a caller's request ID it replaced.)
LOGGED_PACKAGES = ("serving", "classifiers", "asgi_correlation_id")

app = typer.Typer(
    help="Serve the champion topic and stance models over HTTP (settings: NEWS_* environment variables).",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def logging_config(tracking_uri: str) -> dict[str, Any]:
    """uvicorn's logging, extended to this project's loggers, with the tracking URI's secret masked in
    every line and each access line naming its request's ID; each worker process applies it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "redact": {"()": RedactingFilter, "uri": tracking_uri},
        "request_id": {"()": CorrelationIdFilter, "default_value": "-"},
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    # Each access line names its request's X-Request-ID, as the caller received it.
    config["handlers"]["access"]["filters"].append("request_id")
    config["formatters"]["access"]["fmt"] += " request %(correlation_id)s"
    for name in LOGGED_PACKAGES:
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@contextmanager
def exported(variables: Mapping[str, str]) -> Iterator[None]:
    """The variables set in this process's environment for the block, then put back as they were.

    uvicorn's factory builds each worker's settings from the environment (a worker process inherits it), so what
    the command decides must be there for it to see.
    """
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def option_variables(settings: ServingSettings, options: Mapping[str, object]) -> dict[str, str]:
    """The NEWS_* variable of each given option, holding its checked value: the factory then reads the option,
    never the variable it overrides (which may be invalid)."""
    return {f"{ENV_PREFIX}{name.upper()}": str(getattr(settings, name)) for name in options}


@contextmanager
def reload_broadcast(settings: ServingSettings, workers: int) -> Iterator[None]:
    """With several workers and no broadcast file configured, give them one for this server's lifetime."""
    if workers == 1 or settings.reload_broadcast_file is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="news-serving-") as folder, exported(
        {"NEWS_RELOAD_BROADCAST_FILE": str(Path(folder) / "reload")}
    ):
        yield


def share_cores(workers: int) -> None:
    """Give each worker process its share of the cores as torch threads, unless OMP_NUM_THREADS is set.

    torch starts one thread per core in every process: N workers would run N threads per core,
    spinning against each other (measured: two processes on 2 cores fell from 89 to 17 requests/s).
    """
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


def settings_errors(err: ValidationError, options: Mapping[str, object]) -> str:
    """Each wrong setting named as the user set it (`--port` or `NEWS_PORT`) with the reason, without its value."""
    problems = []
    for error in err.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if not field:
            # A rule over several settings (both model URIs empty): its message names them.
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        name = f"--{field}" if field in options else field if field.startswith(ENV_PREFIX) else f"{ENV_PREFIX}{field.upper()}"
        problems.append(f"{name}: {error['msg']}")
    return "; ".join(problems)


def listen_error(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port; None when it can.

    uvicorn binds only after the models have loaded, seconds to minutes later, so a port in use would be
    reported after that wait.
    """
    return listen_problem(host, port, "--port or NEWS_PORT", "--host or NEWS_HOST")


def missing_store(tracking_uri: str) -> str | None:
    """Why the server will not start on this store: a SQLite store whose file does not exist, most likely a mistyped
    path; None otherwise. The server never creates a store (MLflow would make an empty one, and the server would
    answer 503 for good): training makes it with the first model."""
    database = store.sqlite_path(tracking_uri)
    if database is None or database.exists():
        return None
    return (
        f"the tracking store {database} does not exist (NEWS_TRACKING_URI, else MLFLOW_TRACKING_URI; mistyped?): "
        f"the server never creates one; training makes it: `{store.train_defaults_command(tracking_uri)}`"
    )


@contextmanager
def _said_before_start() -> Iterator[None]:
    """A stop in the block before the server was handed its signals ends the command in one logged line and the
    signal's exit code (see serving.early_stop); one after is uvicorn's."""
    try:
        yield
    except (KeyboardInterrupt, early_stop.Stopped) as stop:
        if not early_stop.before_start():
            raise
        raise typer.Exit(early_stop.said_before_start(stop)) from stop


class _Serve(TyperCommand):
    """The command, whose stop before its server starts (while its command line is parsed, while `serve` checks the
    settings, the port and the store) ends in one logged line too: Typer ends a Ctrl-C there in exit code 130 without a
    word."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_start():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_start():
            return super().invoke(*args, **kwargs)


@app.command(cls=_Serve)
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: NEWS_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: NEWS_PORT or 8000).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: NEWS_WORKERS or 1).")] = None,
) -> None:
    """Start the service; it loads the models named by NEWS_TOPIC_MODEL_URI and NEWS_STANCE_MODEL_URI."""
    options: dict[str, Any] = {
        name: value for name, value in {"host": host, "port": port, "workers": workers}.items() if value is not None
    }
    try:
        # The options override their NEWS_* variables and are checked by the same rules.
        settings = ServingSettings(**options)
    except ValidationError as err:
        typer.echo(f"error: invalid settings: {settings_errors(err, options)}", err=True)
        raise typer.Exit(2) from err
    problem = listen_error(settings.host, settings.port)
    if problem is not None:
        typer.echo(f"error: cannot listen on {settings.host}:{settings.port}: {problem}", err=True)
        raise typer.Exit(1)
    problem = missing_store(settings.tracking_uri)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    workers = settings.workers
    share_cores(workers)
    # A log line per downloaded file is noise in a server log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    protocol = limited_httptools(settings.max_header_bytes, settings.request_read_timeout_s)
    with exported(option_variables(settings, options)), reload_broadcast(settings, workers):
        early_stop.hand_over()
        uvicorn.run(
            "serving.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            loop="uvloop",
            # uvicorn calls the partial like a protocol class; its annotation names only classes and names.
            http=protocol,  # type: ignore[arg-type]
            # The service has no WebSocket routes, and an upgraded connection would leave the protocol's limits.
            ws="none",
            # Annotated int, but only given to loop.call_later, which takes seconds as a float.
            timeout_keep_alive=settings.keep_alive_timeout_s,  # type: ignore[arg-type]
            limit_concurrency=settings.max_concurrency,
            access_log=settings.access_log,
            log_config=logging_config(settings.tracking_uri),
        )
