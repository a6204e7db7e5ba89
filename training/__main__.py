import sys

from training.cli import app
from training.stop_requests import Stopped

try:
    app(prog_name="python -m training")
except Stopped as stopped:
    sys.stderr.write(f"error: {stopped} (a run it had started ends FAILED, an output it was writing is removed)\n")
    sys.exit(stopped.exit_code)
