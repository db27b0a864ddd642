"""Is a series of CPU times explained by some linear cost? Decided so that load never flips the answer.

CPU time is measured outside the candidate's process, so it sees work the
in-process counter cannot (C calls, other threads). But it is noisy: the same
program's CPU time varies up to 2x between runs on a busy machine, and a true
doubling reads anywhere from 1.3x to 3.2x once. So no pair of generations is
ever compared. Instead:

- each generation's time is the fastest of the runs of the same program with
  the same arguments (sighted, blind and repeated runs);
- an honest program has some true cost f(k) = b + a*k (b, a >= 0) for k >= 1
  (program 0 is written by hand and may differ), and each measured time c_k
  lies in the band f(k) <= c_k + GRAIN_MS and c_k <= TOLERANCE * f(k) + NOISE_MS;
  for the second bound the smallest of c_k and its two neighbours stands in
  for c_k, so one stray slow run is forgiven;
- the series fails only when no such line fits every band (the bands are
  intersected as a convex polygon in (b, a), one step per generation, so the
  answer for a chain's prefix never reverts when more generations arrive), and
  the fastest time has also risen FLOOR_MS above program 0's.

The second bound uses the fastest of at least three runs (three generations,
one to three runs each), and TOLERANCE 2.5 with NOISE_MS 20 still leaves 1.25x above
the worst noise measured here, so a linear cost of any slope stays inside
whatever the load. An exponential cost (2.9 ms to 271 ms over 50 generations)
or a quadratic one over the same span leaves every line. What this cannot
see, by design: growth that 2.5x noise on a line could also produce, e.g. a
quadratic rise of 270 ms over 50 generations on top of a 15 ms start (it
shows over more generations); the work count covers what runs in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: An honest run may read up to this many times its true cost ...
TOLERANCE = 2.5
#: ... plus this many milliseconds.
NOISE_MS = 20.0
#: An honest run never reads more than this below its true cost (clock granularity).
GRAIN_MS = 2.0
#: CPU time must have risen at least this far above program 0's before it can fail.
FLOOR_MS = 50.0

_BIG = 1e12
_EPS = 1e-9

Point = tuple[float, float]
"""(b, a): intercept and slope of a candidate linear cost."""


@dataclass
class LinearFit:
    """The linear costs still consistent with every time seen, as a convex polygon in (b, a)."""

    polygon: list[Point] = field(default_factory=lambda: [(0.0, 0.0), (_BIG, 0.0), (_BIG, _BIG), (0.0, _BIG)])

    @property
    def feasible(self) -> bool:
        return bool(self.polygon)

    def at_most(self, k: int, value: float) -> None:
        """Require f(k) <= value."""
        self._clip(1.0, float(k), value)

    def at_least(self, k: int, value: float) -> None:
        """Require f(k) >= value."""
        self._clip(-1.0, -float(k), -value)

    def _clip(self, wb: float, wa: float, limit: float) -> None:
        # Sutherland-Hodgman against the half-plane wb*b + wa*a <= limit.
        tolerance = _EPS * max(1.0, abs(limit))
        points = self.polygon
        out: list[Point] = []
        for i, p in enumerate(points):
            q = points[(i + 1) % len(points)]
            vp, vq = wb * p[0] + wa * p[1] - limit, wb * q[0] + wa * q[1] - limit
            if vp <= tolerance:
                out.append(p)
            if (vp <= tolerance) != (vq <= tolerance):
                t = vp / (vp - vq)
                out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        self.polygon = out


@dataclass
class CpuSeries:
    """One run family's fastest CPU times, judged as they arrive."""

    times: dict[int, float] = field(default_factory=dict)
    base: float | None = None
    """Program 0's fastest time."""
    fit: LinearFit = field(default_factory=LinearFit)
    robust: dict[int, float] = field(default_factory=dict)
    """Per generation, the smallest of its time and its neighbours': what the upper band uses."""
    last: int | None = None
    peak: float | None = None
    """The largest robust time so far."""
    tolerance: float = TOLERANCE
    """The upper band's factor; the check keeps the default, `bench/cpu_margin.py` searches for the least."""

    def add(self, k: int, cpu_ms: float) -> None:
        """Record generation k's fastest time (generations arrive in order)."""
        self.times[k] = cpu_ms
        if k == 0:
            self.base = cpu_ms
            return
        self.fit.at_most(k, cpu_ms + GRAIN_MS)
        if self.last is not None and self.last >= 1:
            self._settle(self.last, self.times.get(self.last - 1), cpu_ms)
        self.last = k

    def finish(self) -> None:
        """The chain has ended: the last time has no later neighbour."""
        if self.last is not None and self.last >= 1 and self.last not in self.robust:
            self._settle(self.last, self.times.get(self.last - 1), None)

    def _settle(self, k: int, before: float | None, after: float | None) -> None:
        neighbours = [t for t in (before if k - 1 >= 1 else None, self.times[k], after) if t is not None]
        low = min(neighbours)
        self.robust[k] = low
        self.peak = low if self.peak is None else max(self.peak, low)
        self.fit.at_least(k, (low - NOISE_MS) / self.tolerance)

    @property
    def rise(self) -> float:
        """How far the robust time has risen above program 0's (0 before both are known)."""
        if self.base is None or self.peak is None:
            return 0.0
        return self.peak - self.base

    @property
    def super_linear(self) -> bool:
        return not self.fit.feasible and self.rise >= FLOOR_MS


def least_tolerance(times: list[float | None], high: float = 1e6) -> float:
    """The smallest upper-band factor at which some linear cost explains `times` (index = generation).

    How far a series sits from the rule: an honest chain needs well under `TOLERANCE`, a super-linear
    one far more. Feasibility only grows with the factor, so a bisection finds it.
    """

    def explained(tolerance: float) -> bool:
        series = CpuSeries(tolerance=tolerance)
        for k, cpu_ms in enumerate(times):
            if cpu_ms is not None:
                series.add(k, cpu_ms)
        series.finish()
        return series.fit.feasible

    low = 1.0
    if explained(low):
        return low
    if not explained(high):
        return high
    while high / low > 1.01:
        middle = (low * high) ** 0.5
        low, high = (low, middle) if explained(middle) else (middle, high)
    return high
