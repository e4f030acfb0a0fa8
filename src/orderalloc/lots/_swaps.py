"""Step 4: exchange searches, balanced swaps between two accounts while one lowers the cost.

`_exchange` swaps one increment for one (or opens one account and closes
another of the same size); `_wide_exchange` tries moves of any size between
two accounts. Each applied swap is extended to the pair's best transfer
(`_extend`). Both are skipped when the Lagrangian rounding ended on a
minimiser, which is optimal for its total (Everett 1963).
"""

from __future__ import annotations

import numpy as np

from ..typing import BoolArray, FloatArray, IntArray
from ._exact import _EXACT_MAX_ACCOUNTS
from ._keys import _LazyKeys
from ._legal import _cost_delta, _is_legal, _Legal
from ._problem import _Problem

_MAX_EXCHANGE_ROUNDS = 400

_WIDE_MAX_ACCOUNTS = 5_000  # the wide exchange (any size, close/open) runs up to this size

_WIDE_ROUNDS = 200


def _polish(problem: _Problem, q: FloatArray) -> FloatArray:
    """Both exchange searches, one after the other."""
    q, _ = _exchange(problem, q)
    q, _ = _wide_exchange(problem, q)
    return q


def _swap_sizes(legal: _Legal) -> list[float]:
    """The move sizes that can balance each other: the increment, and opening sizes."""
    sizes = {legal.d}
    opening = legal.low[np.isfinite(legal.low)]
    if opening.size:
        first = float(opening[0])
        if (opening != first).any():  # minimum allocations make opening sizes differ
            sizes.update(np.unique(opening).tolist()[:15])
        else:
            sizes.add(first)
    full = np.isfinite(legal.full)
    if full.any():
        # A whole-position sale moves the account from the top of its range (or 0).
        tops = np.where(np.isfinite(legal.top[full]), legal.top[full], 0.0)
        sizes.update(np.unique(legal.full[full] - tops).tolist()[:15])
    return sorted(sizes)


def _exchange(problem: _Problem, q: FloatArray) -> tuple[FloatArray, int]:
    """Step 4: apply balanced swaps (same face out of one account, into another) that help."""
    t, a, legal, keys = problem.t, problem.a, problem.legal, problem.keys
    q = q.copy()
    applied = 0
    sizes = _swap_sizes(legal)
    up = legal.up(q)
    dn = legal.down(q)
    d_up = _cost_delta(q, up, t, a)
    d_dn = _cost_delta(q, dn, t, a)
    for _ in range(_MAX_EXCHANGE_ROUNDS):
        up_size = up - q
        dn_size = q - dn
        best = (0.0, -1, -1)
        for size in sizes:
            gain, j, i = _best_pair(d_up, d_dn, up_size == size, dn_size == size, keys)
            if gain < best[0]:
                best = (gain, j, i)
        gain, j, i = best
        if j < 0 or gain >= -1e-12 * max(abs(float(d_up[j])), abs(float(d_dn[i])), 1e-300):
            break
        q[j] = up[j]
        q[i] = dn[i]
        _extend(q, j, i, t, a, legal)
        applied += 1
        touched = np.array([i, j])
        sub = legal.take(touched)
        up[touched] = sub.up(q[touched])
        dn[touched] = sub.down(q[touched])
        d_up[touched] = _cost_delta(q[touched], up[touched], t[touched], a[touched])
        d_dn[touched] = _cost_delta(q[touched], dn[touched], t[touched], a[touched])
    return q, applied


def _extend(q: FloatArray, j: int, i: int, t: FloatArray, a: FloatArray, legal: _Legal) -> None:
    """After one increment moved from *i* to *j*, move on to the pair's best transfer.

    Within both accounts' ranges the pair's cost is a convex quadratic in the
    number *k* of further increments, minimised at the nearest whole number to
    its continuous minimiser: one step replaces thousands of one-increment swaps
    (e.g. an increment of 1 face).
    """
    d = legal.d
    if not (legal.low[j] <= q[j] <= legal.top[j] and legal.low[i] <= q[i] <= legal.top[i]):
        return
    k_max = min((legal.top[j] - q[j]) // d, (q[i] - legal.low[i]) // d)
    if k_max <= 0:
        return
    k_star = (a[i] * (q[i] - t[i]) - a[j] * (q[j] - t[j])) / (d * (a[i] + a[j]))
    k = min(max(round(float(k_star)), 0), int(k_max))
    if k > 0:
        q[j] += k * d
        q[i] -= k * d


def _wide_exchange(problem: _Problem, q: FloatArray) -> tuple[FloatArray, int]:
    """Balanced moves of any size between two accounts, while one lowers the cost.

    Sizes tried: one to four increments, every current amount (close one
    account, give it to another: opening it or topping it up) and every opening
    size (open one account, take it from another). Each applied move is then
    extended to the pair's best transfer (`_extend`).
    """
    t, a, legal, keys = problem.t, problem.a, problem.legal, problem.keys
    q = q.copy()
    applied = 0
    d = legal.d
    base = a * (q - t) ** 2
    for _ in range(_WIDE_ROUNDS):
        sizes = {d * k for k in range(1, 5)}
        sizes.update(np.unique(q[q > 0]).tolist()[:64])
        sizes.update(np.unique(legal.low[np.isfinite(legal.low)]).tolist()[:16])
        if q.size <= _EXACT_MAX_ACCOUNTS:
            # Jumps to an account's special amounts (first, last, whole position),
            # balanced by one other account: e.g. sell a whole position and take
            # the difference off another account's sale.
            for special in (legal.low, legal.top, legal.full):
                with np.errstate(invalid="ignore"):
                    jump = np.abs(special - q)
                sizes.update(jump[np.isfinite(jump) & (jump > 0)].tolist())
        best = (0.0, -1, -1, 0.0)
        for size in sorted(sizes):
            up = q + size
            dn = q - size
            with np.errstate(invalid="ignore"):
                c_up = np.where(_is_legal(legal, up), a * (up - t) ** 2 - base, np.inf)
                c_dn = np.where(_is_legal(legal, dn) & (dn >= 0), a * (dn - t) ** 2 - base, np.inf)
            if not (np.isfinite(c_up).any() and np.isfinite(c_dn).any()):
                continue
            gain, j, i = _best_pair(c_up, c_dn, np.isfinite(c_up), np.isfinite(c_dn), keys)
            if j >= 0 and gain < best[0]:
                best = (gain, j, i, size)
        gain, j, i, size = best
        scale = max(float(base[j]) if j >= 0 else 0.0, float(base[i]) if i >= 0 else 0.0, 1e-300)
        if j < 0 or gain >= -1e-12 * scale:
            break
        q[j] += size
        q[i] -= size
        _extend(q, j, i, t, a, legal)
        for k in (i, j):
            base[k] = a[k] * (q[k] - t[k]) ** 2
        applied += 1
    return q, applied


def _best_pair(
    d_up: FloatArray,
    d_dn: FloatArray,
    up_mask: BoolArray,
    dn_mask: BoolArray,
    keys: _LazyKeys,
) -> tuple[float, int, int]:
    """The cheapest (up j, down i) pair with i != j among the masked moves."""
    ups = np.flatnonzero(up_mask)
    dns = np.flatnonzero(dn_mask)
    if ups.size == 0 or dns.size == 0:
        return 0.0, -1, -1
    cu = d_up[ups]
    cd = d_dn[dns]
    ju = _argmin_keyed(ups, cu, keys)
    idn = _argmin_keyed(dns, cd, keys)
    if ju != idn:
        return float(d_up[ju] + d_dn[idn]), ju, idn
    # The same account is cheapest both ways: pair it with the runner-up on one side.
    options: list[tuple[float, int, int]] = []
    other_up = ups[ups != ju]
    if other_up.size:
        j2 = _argmin_keyed(other_up, d_up[other_up], keys)
        options.append((float(d_up[j2] + d_dn[idn]), j2, idn))
    other_dn = dns[dns != idn]
    if other_dn.size:
        i2 = _argmin_keyed(other_dn, d_dn[other_dn], keys)
        options.append((float(d_up[ju] + d_dn[i2]), ju, i2))
    return min(options) if options else (0.0, -1, -1)


def _argmin_keyed(idx: IntArray, cost: FloatArray, keys: _LazyKeys) -> int:
    low = cost.min()
    tied = idx[cost == low]
    return keys.pick(tied)
