import signal
import sys

from serving import early_stop  # the standard library's logging only: loaded in milliseconds

# Until serve() hands it over to uvicorn: SIGTERM while the libraries load or the server is not yet started is said too.
signal.signal(signal.SIGTERM, early_stop.stop)
try:
    from serving.cli import app

    app(prog_name="python -m serving")
except (KeyboardInterrupt, early_stop.Stopped) as stop:  # nothing has started, nothing to undo
    sys.exit(early_stop.said_before_start(stop))
