"""Peak resident memory of this process since a starting point (Linux)."""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
# Writing 5 to clear_refs resets the kernel's high-water mark (VmHWM) to the current RSS (Linux >= 4.0).
_RESET_PEAK = "5"


class PeakMemory:
    """Peak RSS from construction on, so a sweep child reports its own peak, not the sweep's.

    The kernel keeps one high-water mark per process, so making a PeakMemory ends the measurement of
    any earlier one: `floor_mb` carries a peak measured before into this one. Where /proc cannot be
    reset, the process-wide peak (`ru_maxrss`) is reported instead.
    """

    def __init__(self, floor_mb: float = 0.0) -> None:
        self.floor_mb = floor_mb
        try:
            _CLEAR_REFS.write_text(_RESET_PEAK)
            self._resettable = True
        except OSError:
            self._resettable = False

    def peak_mb(self) -> float:
        """The highest resident memory seen since this object was made, in MiB."""
        if self._resettable:
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(self.floor_mb, int(line.split()[1]) / 1024)  # the kernel reports kB
        return max(self.floor_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
