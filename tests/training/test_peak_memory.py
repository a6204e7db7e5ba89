"""Peak memory since a starting point, and a peak carried over from an earlier measurement."""

import pytest

from training.peak_memory import PeakMemory

_BALLAST_MB = 128


def _touch_ballast() -> bytearray:
    """Allocate and touch `_BALLAST_MB` MiB so it counts in the resident set."""
    ballast = bytearray(_BALLAST_MB * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # one byte per page makes every page resident
    return ballast


def test_a_floor_carries_an_earlier_peak_across_a_reset() -> None:
    earlier = PeakMemory()
    ballast = _touch_ballast()
    peak = earlier.peak_mb()
    del ballast
    later = PeakMemory(floor_mb=peak)
    assert later.peak_mb() >= peak
    assert PeakMemory().peak_mb() <= later.peak_mb()


def test_a_new_measurement_resets_the_peak_of_an_earlier_one() -> None:
    """Without a floor, a new PeakMemory starts from the current RSS, not the process's high-water mark."""
    earlier = PeakMemory()
    if not earlier._resettable:
        pytest.skip("/proc/self/clear_refs cannot reset the peak here; ru_maxrss is process-wide")
    ballast = _touch_ballast()
    peak = earlier.peak_mb()
    # glibc serves an allocation this large with mmap, so freeing it returns the pages to the kernel.
    del ballast
    fresh = PeakMemory().peak_mb()
    # Half the ballast as margin: the reset must drop the peak by far more than allocator noise.
    assert fresh < peak - _BALLAST_MB / 2, (fresh, peak)
