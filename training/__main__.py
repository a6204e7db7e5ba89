import signal
import sys

from training import stop_requests  # the standard library's modules only: loaded in milliseconds

# As training.cli sets them once the command line is read: a stop while the libraries load (seconds: MLflow) is said
# too, SIGTERM's as well.
signal.signal(signal.SIGTERM, stop_requests.stop)
signal.signal(signal.SIGINT, stop_requests.stop)
try:
    from training.cli import app
except (KeyboardInterrupt, stop_requests.Stopped) as stop:  # nothing has started, nothing to undo
    sys.exit(stop_requests.said_before_command(stop))

try:
    try:
        app(prog_name="python -m training")
    finally:
        stop_requests.raise_if_pending()
except stop_requests.Stopped as stopped:
    sys.stderr.write(f"error: {stopped} (a run it had started ends FAILED, an output it had not finished writing is removed)\n")
    sys.exit(stopped.exit_code)
except KeyboardInterrupt:
    sys.stderr.write("Aborted!\n")  # as Click ends a command interrupted by Ctrl-C
    sys.exit(1)
