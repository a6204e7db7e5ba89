import sys

try:
    from training import stop_requests
    from training.cli import app
    from training.stop_requests import Stopped
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started, nothing to undo
    sys.stderr.write("Aborted!\n")
    sys.exit(1)

try:
    try:
        app(prog_name="python -m training")
    finally:
        stop_requests.raise_if_pending()
except Stopped as stopped:
    sys.stderr.write(f"error: {stopped} (a run it had started ends FAILED, an output it had not finished writing is removed)\n")
    sys.exit(stopped.exit_code)
except KeyboardInterrupt:
    sys.stderr.write("Aborted!\n")  # as Click ends a command interrupted by Ctrl-C
    sys.exit(1)
