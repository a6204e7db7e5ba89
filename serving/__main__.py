import sys

from serving import early_stop  # the standard library's logging only: loaded in milliseconds

try:
    from serving.cli import app
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started, nothing to undo
    sys.exit(early_stop.said_before_start())

app(prog_name="python -m serving")
