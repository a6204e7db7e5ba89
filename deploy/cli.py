"""`python -m deploy start|stop|status`: the local shared-tracking stack (PostgreSQL + mlflow server)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from deploy import early_stop
from deploy.stack import DEFAULT_DATA_DIR, Ports, Stack, StackError, StackStatus, deploy_command, describe, shown_names


@contextmanager
def _said_before_command() -> Iterator[None]:
    """A stop while the command line is parsed ends the command in one logged line and the signal's exit code (see
    deploy.early_stop): Typer ends a Ctrl-C there in exit code 130 without a word."""
    try:
        yield
    except (KeyboardInterrupt, early_stop.Stopped) as stop:
        raise typer.Exit(early_stop.said_before_command(stop)) from stop


class _Commands(TyperGroup):
    """The commands, whose stop while `python -m deploy`'s own options are parsed is said in one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_command():
            return super().make_context(*args, **kwargs)


class _Command(TyperCommand):
    """A command, whose stop while its options are parsed is said in one line. SIGTERM is its own once it starts (not
    from the group's callback on, which runs before the command's options are parsed), and so is the closing line of a
    stop while it runs (`_stop_said`)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _said_before_command():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        return super().invoke(*args, **kwargs)


app = typer.Typer(
    help="A PostgreSQL-backed MLflow tracking server on loopback, shared by training, evaluation and serving.",
    cls=_Commands,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)

def _home_expanded(data_dir: Path) -> Path:
    """`--data-dir=~/stack` reaches the command with its `~` (a shell expands it only at the start of a word): a start
    made a folder named `~` in the current one."""
    return data_dir.expanduser()


DataDir = Annotated[
    Path, typer.Option(help="Folder that holds the cluster, the artifacts and the logs.", callback=_home_expanded)
]


def _report(status: StackStatus) -> None:
    state = {True: "running", False: "stopped"}
    typer.echo(f"postgres  {state[status.postgres_running]}  {status.ports.postgres}")
    mlflow = state[status.mlflow_running]
    if status.mlflow_running and not status.postgres_running:
        # Its process is up, but every request that needs the store fails (503) until PostgreSQL is back.
        mlflow += f" but cannot answer: its PostgreSQL is stopped (`{deploy_command('start', status.data_dir)}` starts it again)"
    typer.echo(f"mlflow    {mlflow}  {status.tracking_uri}")
    typer.echo(f"data      {status.data_dir}")


@contextmanager
def _stack_errors() -> Iterator[None]:
    """A StackError ends the command with its message (and its notes: what failed in the cleanup after it) and exit
    code 1, without a traceback."""
    try:
        yield
    except StackError as err:
        typer.echo("\n".join([f"error: {err}", *getattr(err, "__notes__", [])]), err=True)
        raise typer.Exit(1) from err


@contextmanager
def _stop_said(command: str, left: Callable[[KeyboardInterrupt | early_stop.Stopped], str]) -> Iterator[None]:
    """End a command stopped by Ctrl-C or SIGTERM in one logged line, `<command> interrupted (Ctrl-C)` or `<command>
    stopped by SIGTERM` and what it left, and the signal's exit code (130, 143): they ended in the code alone. `left`
    says what it left, from the stop (its notes: what failed in the cleanup after it), beginning with the words that
    join it on (": ...", " once it had finished: ...")."""
    try:
        yield
    except (KeyboardInterrupt, early_stop.Stopped) as stop:
        early_stop.logger.error("%s %s%s", command, early_stop.said(stop), left(stop))
        raise typer.Exit(early_stop.exit_code(stop)) from stop


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> NoReturn:
    """SIGTERM (a process manager's or a CI job's stop) unwinds as Ctrl-C does: a start stops what it started. A
    second one while that happens is ignored, so the cleanup is not cut short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise early_stop.Stopped(signum)


@contextmanager
def _sigterm_deferred() -> Iterator[None]:
    """SIGTERM waits until the block ends, then is raised, as a stopped start's is. Raised in the middle of a stop, it
    ended the stop wherever it stood: PostgreSQL ran on after the tracking server (or both did), and the process
    manager that sent it took the stack for stopped."""
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
    if received:
        raise early_stop.Stopped(received[0])


@app.callback()
def main() -> None:
    """Logging for every command."""
    logging.basicConfig(level=logging.INFO, format=early_stop.LOG_FORMAT)


@app.command(cls=_Command)
def start(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    postgres_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help=f"PostgreSQL port on loopback (default: the running server's, else the last start's, else {Ports.postgres}).",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help=f"Tracking server port on loopback (default: the running server's, else the last start's, else {Ports.mlflow}).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Tracking server worker processes (default 1; a server already running keeps its own: stop it to change).",
        ),
    ] = None,
) -> None:
    """Start PostgreSQL and the tracking server; creates the cluster on first use."""
    stack = Stack(data_dir)
    status: StackStatus | None = None  # once the stack has started

    def left(stop: KeyboardInterrupt | early_stop.Stopped) -> str:
        if status is not None:
            return f" after the stack had started: it runs on, at {status.tracking_uri}"
        if getattr(stop, "__notes__", None):  # the steps of the cleanup that failed, logged by the stack as they came
            return f": undoing what it had started failed in part (said above); `{deploy_command('status', data_dir)}` says what runs"
        if isinstance(stop.__context__, (KeyboardInterrupt, early_stop.Stopped)):  # a Ctrl-C while it undid the first
            return (
                ": undoing what it had started was cut short by this second stop; "
                f"`{deploy_command('status', data_dir)}` says what runs"
            )
        # Stack.start undoes a start stopped anywhere in it, and one stopped before it has nothing to undo.
        return ": what it had started is undone and the saved ports are as before it; what ran before it runs on"

    with _stop_said("start", left), _stack_errors():
        # The running parts' ports where stack.json no longer names them, so that a plain start does not move them.
        saved = stack.status().ports
        chosen = Ports(
            saved.postgres if postgres_port is None else postgres_port, saved.mlflow if port is None else port
        )
        status = stack.start(chosen, workers)
        _report(status)
        typer.echo(f"\nexport MLFLOW_TRACKING_URI={status.tracking_uri}")


@app.command(cls=_Command)
def stop(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Stop the tracking server and PostgreSQL; runs, models and artifacts stay in the data folder."""
    stack = Stack(data_dir)
    stopped: StackStatus | None = None  # once the stop has finished

    def left(_stop: KeyboardInterrupt | early_stop.Stopped) -> str:
        if stopped is None:  # Ctrl-C: SIGTERM waits for the stop to finish
            return (
                f" before it had finished: part of the stack may still run (`{deploy_command('status', data_dir)}` says "
                f"which, `{deploy_command('stop', data_dir)}` stops it)"
            )
        return f" once it had finished: {_parts_left(stopped)}; runs, models and artifacts stay in {data_dir}"

    # A stop that fails ends with its own error and code 1 even after a SIGTERM: its message says what may still run.
    with _stop_said("stop", left), _stack_errors(), _sigterm_deferred():
        if not data_dir.exists() and stack.stray_processes():
            # The folder was removed under a running stack: its processes are still this stack's to stop.
            typer.echo(f"the data folder {data_dir} is gone; stopping what still ran from it", err=True)
        else:
            _check_data_dir(data_dir, stack)
        stopped = stack.stop()
        _report(stopped)


# pg_ctl status's code (and LSB's "program is not running") for a stack not wholly running, so a script can test it.
NOT_RUNNING_EXIT_CODE = 3


@app.command(cls=_Command)
def status(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Which parts of the stack run now; exit code 0 when both run, 3 when either is stopped, 1 when --data-dir holds
    no stack."""
    stack = Stack(data_dir)
    with _stop_said("status", lambda _stop: ": it changes nothing, the stack left as it was"), _stack_errors():
        strays = stack.stray_processes()
        if strays and not data_dir.exists():
            raise StackError(
                f"no stack in {data_dir}: the folder does not exist, yet {describe(strays)} started from it still "
                f"run: `{deploy_command('stop', data_dir)}` ends them"
            )
        _check_data_dir(data_dir, stack)
        found = stack.status()
        _report(found)
        if strays:
            typer.echo(
                f"stray     {describe(strays)}: still running, but the stack's files no longer lead to them "
                f"(`{deploy_command('stop', data_dir)}` ends them)"
            )
    if not (found.postgres_running and found.mlflow_running):
        raise typer.Exit(NOT_RUNNING_EXIT_CODE)


def _parts_left(status: StackStatus) -> str:
    """Which parts of the stack a stop left running, for its closing line."""
    running = [
        name for name, up in (("PostgreSQL", status.postgres_running), ("the tracking server", status.mlflow_running)) if up
    ]
    return f"{' and '.join(running)} still {'run' if len(running) > 1 else 'runs'}" if running else "the stack is stopped"


def _check_data_dir(data_dir: Path, stack: Stack) -> None:
    """A data folder that does not exist, is a file, or holds other files and none of the stack's is named: most likely
    a mistyped --data-dir (an empty one, an unset variable, is the current folder), where "stopped" would hide that no
    stack was ever there (and, for `stop`, that the real one still runs)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise StackError(f"the data folder {data_dir} cannot be used: it is a file")
    if not data_dir.exists():
        raise StackError(
            f"no stack in {data_dir}: the folder does not exist (a mistyped --data-dir? "
            f"`{deploy_command('start', data_dir)}` makes a new stack there)"
        )
    # An empty folder is one made for a stack; strays are named (status) or ended (stop) however the folder looks.
    others = stack.other_files()
    if others and not stack.holds_own_files() and not stack.stray_processes():
        raise StackError(
            f"no stack in {stack.data_dir}: the folder holds other files ({shown_names(others)}) and none of the stack's "
            "(postgres/, stack.json, ...): most likely a mistyped --data-dir (an empty --data-dir is the current folder)"
        )
