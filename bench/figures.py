"""Percentiles and the lines the benchmark prints."""

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was really observed, never an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def spread_ms(values_ms: Sequence[float]) -> str:
    return (
        f"p50 {percentile(values_ms, 0.50):7.1f} ms   p99 {percentile(values_ms, 0.99):7.1f} ms"
        f"   max {max(values_ms, default=math.nan):7.1f} ms"
    )


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def heading(text: str) -> None:
    print(f"\n{text}", flush=True)


def line(label: str, value: str, note: str = "") -> None:
    print(f"   {label:<28} {value:>14}   {note}".rstrip(), flush=True)
