import sys

try:
    from serving.cli import app
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing has started, nothing to undo
    sys.stderr.write("Aborted!\n")
    sys.exit(1)

app(prog_name="python -m serving")
