"""Peak memory since a starting point, and a peak carried over from an earlier measurement."""

from training.peak_memory import PeakMemory


def test_a_floor_carries_an_earlier_peak_across_a_reset() -> None:
    earlier = PeakMemory()
    ballast = bytearray(64 * 1024 * 1024)  # touch 64 MiB so the earlier peak is well above the baseline
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    peak = earlier.peak_mb()
    del ballast
    later = PeakMemory(floor_mb=peak)
    assert later.peak_mb() >= peak
    assert PeakMemory().peak_mb() <= later.peak_mb()
