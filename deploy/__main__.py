import signal
import sys

from deploy import early_stop  # the standard library's logging only: loaded in milliseconds

# Until a command sets its own (deploy.cli): SIGTERM while the libraries load or the command line is parsed is said too.
signal.signal(signal.SIGTERM, early_stop.stop)
try:
    from deploy.cli import app

    app()
except (KeyboardInterrupt, early_stop.Stopped) as stop:  # no command has started, nothing to undo
    sys.exit(early_stop.said_before_command(stop))
