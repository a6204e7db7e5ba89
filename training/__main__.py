import signal
import sys

from training import stop_requests  # the standard library's modules only: loaded in milliseconds

# As training.cli sets them once the command line is read: a stop while the libraries load (seconds: MLflow) is said
# too, SIGTERM's as well.
signal.signal(signal.SIGTERM, stop_requests.stop)
signal.signal(signal.SIGINT, stop_requests.stop)
try:
    import typer.main

    from training.cli import app

    # Typer builds the command from the functions' signatures before it reads the command line: a stop there, inside
    # app(...), ended in "Aborted!" and exit code 1 (or, SIGTERM, in the line below that speaks of runs and outputs).
    command = typer.main.get_command(app)
except (KeyboardInterrupt, stop_requests.Stopped) as stop:  # nothing has started, nothing to undo
    sys.exit(stop_requests.said_before_command(stop))

try:
    try:
        command(prog_name="python -m training")
    finally:
        stop_requests.raise_if_pending()
except stop_requests.Stopped as stopped:
    sys.stderr.write(f"error: {stopped} (a run it had started ends FAILED, an output it had not finished writing is removed)\n")
    sys.exit(stopped.exit_code)
except KeyboardInterrupt:
    sys.stderr.write("Aborted!\n")  # as Click ends a command interrupted by Ctrl-C
    sys.exit(1)
finally:
    stop_requests.ignored_while_exiting()
