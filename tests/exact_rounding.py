"""Exact integer optima of the rounding, computed independently of orderalloc.lots.

The referee for `tests/test_rounding_optimality.py` and
`benchmarks/rounding_campaign.py`. For every account the legal amounts are
``0``, ``min_piece + k * increment`` for ``klo <= k <= khi``, and a whole-position
sale; the rounding objective is separable, ``sum_i f_i(q_i)``, with each
``f_i`` convex along the contiguous range. Two independent methods:

* `milp_optimum`: a mixed-integer programme solved by HiGHS (through
  ``scipy.optimize.milp``): binaries *z* (the range is open), *x* (the whole
  position is sold), an integer step count *k*, and a cost variable *y* bounded
  below by the secants of ``f_i`` through consecutive whole steps, which equal
  ``f_i`` at every whole *k*. Secants are added lazily where the solution
  undercuts the true cost, so the answer is exact at any menu size
  (increments of 1 face included). First the largest legal total, then the
  least cost at that total.
* `brute_force`: every combination of the menus (tiny groups only); it also
  takes any objective, e.g. the equally weighted variance, whose mean moves.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from orderalloc.limits import TradeBounds


def menu(bounds: TradeBounds, i: int, limit: float) -> list[float]:
    """Every legal amount of account *i* up to *limit*."""
    m, d = bounds.min_piece, bounds.increment
    out = [0.0]
    lo, hi = int(bounds.klo[i]), int(bounds.khi[i])
    if lo <= hi:
        hi = min(hi, math.floor((limit - m) / d))
        out += [m + k * d for k in range(lo, hi + 1)]
    if bounds.kx[i] >= 0 and m + bounds.kx[i] * d <= limit:
        out.append(m + float(bounds.kx[i]) * d)
    return sorted(set(out))


def brute_force(
    bounds: TradeBounds, total: float, objective: Callable[[np.ndarray], float]
) -> tuple[float, float] | None:
    """``(largest legal total, least objective at it)`` over every combination; None if too many."""
    menus = [menu(bounds, i, total) for i in range(bounds.n)]
    if math.prod(len(x) for x in menus) > 300_000:
        return None
    best_total, best_value = -1.0, math.inf
    for combo in itertools.product(*menus):
        s = float(sum(combo))
        if s > total or s < best_total:
            continue
        value = objective(np.array(combo))
        if s > best_total:
            best_total, best_value = s, value
        elif value < best_value:
            best_value = value
    return best_total, best_value


def milp_optimum(
    bounds: TradeBounds,
    total: float,
    a: np.ndarray,
    centre: np.ndarray | Callable[[float], np.ndarray],
    *,
    hint: np.ndarray | None = None,
    max_rounds: int = 60,
) -> tuple[float, float]:
    """``(largest legal total, least sum_i a_i (q_i - t_i)^2 at it)``, exactly.

    *centre* is *t*, or a function of the largest total giving *t* (min
    dispersion: the mean after the trade depends on the total placed). *hint*
    (a split, e.g. the one under test) only seeds the secants, which saves
    rounds; it does not change the answer.

    Quantities are scaled to units of ``gcd(min_piece, increment)`` and costs to
    the cost of the all-zero split, so HiGHS sees well-scaled numbers; the
    returned cost is in the caller's units, evaluated exactly at the solution.
    """
    m, d = bounds.min_piece, bounds.increment
    n = bounds.n
    klo = bounds.klo.astype(float)
    khi = np.minimum(bounds.khi.astype(float), np.floor((total - m) / d))
    has_range = klo <= khi
    full = np.where(bounds.kx >= 0, m + bounds.kx * d, np.inf)
    has_full = np.isfinite(full) & (full <= total)
    unit = math.gcd(int(m), int(d))
    # Variables: z (n), x (n), k (n), y (n).
    nz = 4 * n
    zi, xi, ki, yi = (np.arange(n) + j * n for j in range(4))
    lb = np.zeros(nz)
    ub = np.concatenate(
        [has_range.astype(float), has_full.astype(float), np.maximum(khi, 0.0), np.full(n, np.inf)]
    )
    integrality = np.concatenate([np.ones(3 * n), np.zeros(n)])

    def amount_row() -> np.ndarray:
        row = np.zeros(nz)
        row[zi] = m / unit
        row[xi] = np.where(has_full, full, 0.0) / unit
        row[ki] = d / unit
        return row

    rows = [amount_row()]
    lo_b, hi_b = [-np.inf], [total / unit]
    for i in range(n):  # klo z <= k <= khi z ; z + x <= 1
        r1 = np.zeros(nz)
        r1[ki[i]], r1[zi[i]] = 1.0, -max(khi[i], 0.0)
        rows.append(r1)
        lo_b.append(-np.inf)
        hi_b.append(0.0)
        r2 = np.zeros(nz)
        r2[ki[i]], r2[zi[i]] = 1.0, -klo[i]
        rows.append(r2)
        lo_b.append(0.0)
        hi_b.append(np.inf)
        r3 = np.zeros(nz)
        r3[zi[i]] = r3[xi[i]] = 1.0
        rows.append(r3)
        lo_b.append(-np.inf)
        hi_b.append(1.0)
    # Phase 1: the largest legal total.
    res = milp(
        -amount_row(),
        constraints=LinearConstraint(np.array(rows), lo_b, hi_b),
        integrality=integrality,
        bounds=Bounds(lb, ub),
        options={"mip_rel_gap": 0.0},
    )
    assert res.status == 0, res.message
    best_units = round(-res.fun)
    best = best_units * unit
    t = centre(float(best)) if callable(centre) else centre

    scale = float(np.sum(a * t * t)) or 1.0
    cost_zero = a * t * t / scale
    cost_full = np.where(has_full, a * (np.where(has_full, full, 0.0) - t) ** 2, 0.0) / scale

    def f(i: int, k: float) -> float:
        return float(a[i] * (m + k * d - t[i]) ** 2) / scale

    cuts: list[tuple[int, float]] = []
    for i in range(n):
        if has_range[i]:
            # Start with the secants around the continuous minimiser and at the ends.
            if klo[i] == khi[i]:
                cuts.append((i, float(klo[i])))  # one amount: y >= f(klo) z
                continue
            k0 = min(max(math.floor((t[i] - m) / d), klo[i]), khi[i])
            seeds = {klo[i], k0, k0 - 1, khi[i] - 1}
            if hint is not None and hint[i] >= m:
                kh = round((hint[i] - m) / d)
                seeds |= {kh, kh - 1}
            for k in seeds:
                if klo[i] <= k < khi[i]:
                    cuts.append((i, float(k)))
    base_rows = [*rows, amount_row()]
    base_lo = [*lo_b, best_units]
    base_hi = [*hi_b, best_units]
    for _ in range(max_rounds):
        c_rows, c_lo, c_hi = [], [], []
        for i in range(n):
            # y >= cost_zero (1 - z - x) ; y >= cost_full x
            r = np.zeros(nz)
            r[yi[i]], r[zi[i]], r[xi[i]] = 1.0, cost_zero[i], cost_zero[i]
            c_rows.append(r)
            c_lo.append(cost_zero[i])
            c_hi.append(np.inf)
            r = np.zeros(nz)
            r[yi[i]], r[xi[i]] = 1.0, -cost_full[i]
            c_rows.append(r)
            c_lo.append(0.0)
            c_hi.append(np.inf)
        for i, k in set(cuts):
            if klo[i] == khi[i]:
                alpha, beta = f(i, k), 0.0
                alpha -= beta * k
            else:
                beta = f(i, k + 1) - f(i, k)
                alpha = f(i, k) - beta * k
            # y >= alpha z + beta k (equal to f at k and k + 1 when z = 1; 0 when closed)
            r = np.zeros(nz)
            r[yi[i]], r[zi[i]], r[ki[i]] = 1.0, -alpha, -beta
            c_rows.append(r)
            c_lo.append(0.0)
            c_hi.append(np.inf)
        objective = np.zeros(nz)
        objective[yi] = 1.0
        res = milp(
            objective,
            constraints=LinearConstraint(
                np.array(base_rows + c_rows), base_lo + c_lo, base_hi + c_hi
            ),
            integrality=integrality,
            bounds=Bounds(lb, ub),
            options={"mip_rel_gap": 0.0, "time_limit": 30.0},
        )
        assert res.status == 0, res.message
        sol = res.x
        z = np.round(sol[zi])
        k = np.round(sol[ki])
        x = np.round(sol[xi])
        added = False
        for i in range(n):
            if z[i] == 1 and klo[i] < khi[i]:
                true = f(i, k[i])
                if sol[yi[i]] < true - 1e-9 * max(1.0, true):
                    for kk in (k[i] - 1, k[i]):
                        if klo[i] <= kk < khi[i] and (i, kk) not in cuts:
                            cuts.append((i, kk))
                            added = True
        if not added:
            q = z * m + k * d + np.where(x == 1, np.where(has_full, full, 0.0), 0.0)
            return best, float(np.sum(a * (q - t) ** 2))
    raise AssertionError("lazy secants did not converge")


def dp_optimum(
    bounds: TradeBounds,
    total: float,
    a: np.ndarray,
    centre: np.ndarray | Callable[[float], np.ndarray],
    *,
    max_cells: int = 30_000_000,
) -> tuple[float, float] | None:
    """The same as `milp_optimum` by a plain dynamic programme over totals.

    Every legal amount of every account is on the menu (no windows, no
    Lagrangian), accounts in input order: a second, independent exact method.
    None when menus x totals exceeds *max_cells*.
    """
    m, d = bounds.min_piece, bounds.increment
    unit = math.gcd(int(m), int(d))
    size = int(total // unit) + 1
    menus = [np.array(menu(bounds, i, total)) for i in range(bounds.n)]
    if sum(x.size for x in menus) * size > max_cells:
        return None
    reach = np.full(size, False)
    reach[0] = True
    for opts in menus:  # phase 1: which totals are reachable
        new = reach.copy()
        for o in opts[1:]:
            u = int(o // unit)
            new[u:] |= reach[: size - u]
        reach = new
    best_u = int(np.flatnonzero(reach)[-1])
    t = centre(float(best_u * unit)) if callable(centre) else centre
    cost = np.full(size, np.inf)
    cost[0] = 0.0
    for i, opts in enumerate(menus):
        new = np.full(size, np.inf)
        for o in opts:
            u = int(o // unit)
            np.minimum(new[u:], cost[: size - u] + a[i] * (o - t[i]) ** 2, out=new[u:])
        cost = new
    return float(best_u * unit), float(cost[best_u])


def moving_mean_optimum(
    bounds: TradeBounds,
    total: float,
    m: np.ndarray,
    s: np.ndarray,
    w: np.ndarray,
    *,
    rtol: float = 1e-8,
    max_points: int = 400,
    max_cells: int = 30_000_000,
) -> tuple[float, float] | None:
    """``(largest legal total, least weighted variance of m + s q)`` when the mean moves.

    With weights *w* summing to 1, ``sum_i w_i (x_i - c)^2 = V(q) + (mean(q) - c)^2``,
    so ``min_q V(q) = min_c G(c)`` where ``G(c)`` is the separable optimum at
    centre *c* (`dp_optimum`, exact). ``G(c) - c^2`` is a minimum of linear
    functions of *c*, hence concave and above its chords: bisection of the
    interval holding every possible mean, pruned by the chord bound, gives
    the optimum to *rtol*. None when a programme exceeds *max_cells*.
    """
    w = w / w.sum()
    a = w * s * s
    reach = np.array([menu(bounds, i, total)[-1] for i in range(bounds.n)])
    ends = np.stack([m, m + s * reach])
    lo, hi = float(ends.min()), float(ends.max())

    def g(c: float) -> float | None:
        found = dp_optimum(bounds, total, a, (c - m) / s, max_cells=max_cells)
        return None if found is None else found[1]

    values: dict[float, float] = {}
    for c in (lo, hi):
        v = g(c)
        if v is None:
            return None
        values[c] = v
    best_total = dp_optimum(bounds, total, a, (lo - m) / s, max_cells=max_cells)
    assert best_total is not None

    def floor(c0: float, c1: float) -> float:
        # In u = c - c0 (no cancellation against c^2): G = u^2 + h(u), h concave.
        span = c1 - c0
        if span <= 0:
            return min(values[c0], values[c1])
        h0, h1 = values[c0], values[c1] - span * span
        slope = (h1 - h0) / span
        u = min(max(-slope / 2.0, 0.0), span)
        return u * u + h0 + slope * u

    pending = [(lo, hi)]
    upper = min(values.values())

    def tol() -> float:
        return rtol * abs(upper) + 1e-15 * (hi - lo) ** 2

    while pending and len(values) < max_points:
        pending.sort(key=lambda iv: floor(*iv))
        c0, c1 = pending.pop(0)
        if floor(c0, c1) >= upper - tol():
            break
        c = 0.5 * (c0 + c1)
        v = g(c)
        assert v is not None
        values[c] = v
        upper = min(upper, v)
        pending += [(c0, c), (c, c1)]
    assert not pending or min(floor(*iv) for iv in pending) >= upper - 100 * tol(), (
        "the centre search did not converge"
    )
    return best_total[0], upper
