"""Does an account systematically get the winners? P&L of allocations and a permutation test.

**The P&L.** Order *k* was filled at the average price ``p_k``; a later
price ``P_k`` (the next day's, as examiners use) gives every face unit of it
the return ``r_k = side_k x (P_k - p_k) / 100``, and account *i* the P&L
``q_ik x r_k`` on the face ``q_ik`` it was allocated.

**The statistic.** An account that receives a larger slice of the orders
that go up than of those that go down is favoured. Its *excess P&L*

    T_i = sum_k (q_ik - s_i x placed_k) x r_k,   s_i = sum_k q_ik / sum_{k: i took part} placed_k

compares what it got of each order with its own average share: a desk
that was lucky as a whole (it bought more of the winners) favours nobody,
and ``T_i`` is 0 for an account that always gets the same share.

**The permutation test.** If the allocation did not know the outcome, the
returns could have landed on any order of the same kind: the same fills,
reallocated at random among the orders of the same side and lot grid
(minimum piece and increment, so that every amount stays a legal
denomination of the order it is moved to). Each draw permutes ``r`` within
those strata; the one-sided p-value is ``(1 + #{T_i^perm >= T_i}) / (1 + B)``.
Holm's adjustment over the accounts controls the chance of flagging any
account by luck (the family-wise error rate). The mean and standard
deviation of ``T_i`` under the permutation are exact (closed form per
stratum); the p-value is a Monte-Carlo estimate, repeatable for a seed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from ..errors import InvalidParameterError
from ..typing import FloatArray, IntArray
from .trail import FairnessTrail

__all__ = ["PermutationResult", "holm", "order_returns", "permutation_test"]

#: The quantiles of each account's null distribution kept for the report.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _later_price_frame(frame: Any, trail: FairnessTrail) -> FloatArray:
    """Prices from a table: by ``order_id``, or the first ``date`` after the execution."""
    cols = {str(c).lower(): c for c in frame.columns}
    out = np.full(trail.n_orders, np.nan)
    if "price" not in cols:
        raise InvalidParameterError("prices", list(frame.columns), "needs a 'price' column")
    price = frame[cols["price"]].to_numpy(dtype=float)
    if "order_id" in cols:
        by_order = dict(zip(frame[cols["order_id"]].astype(str), price, strict=True))
        return np.array([by_order.get(o, np.nan) for o in trail.order_ids], dtype=float)
    if "security_id" not in cols or "date" not in cols:
        raise InvalidParameterError(
            "prices", list(frame.columns), "needs order_id, or security_id and date, and price"
        )
    dates = [_as_date(d) for d in frame[cols["date"]].tolist()]
    series: dict[str, list[tuple[dt.date, float]]] = {}
    for sec, day, p in zip(frame[cols["security_id"]].astype(str), dates, price, strict=True):
        series.setdefault(sec, []).append((day, float(p)))
    for rows in series.values():
        rows.sort()
    for k, (sec, at) in enumerate(zip(trail.security_ids, trail.executed_at, strict=True)):
        later = [p for day, p in series.get(sec, ()) if day > at.date()]
        if later:
            out[k] = later[0]
    return out


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        got = value.date()
        if isinstance(got, dt.date):
            return got
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidParameterError("prices date", value, "must be a date") from None


def later_prices(trail: FairnessTrail, prices: Any) -> FloatArray:
    """The later price of each order (NaN where none is known).

    Args:
        trail: The orders.
        prices: One of: a mapping of order id or security id to a price; a
            pandas DataFrame with ``order_id`` and ``price``, or with
            ``security_id``, ``date`` and ``price`` (the first date after the
            execution is used: the next day's price); a callable
            ``(order_id, security_id, executed_at) -> price or None``; or a
            data source (its current ``security(id).price``).

    Raises:
        InvalidParameterError: A table without the columns, or a price that is
            not a finite number > 0.
    """
    if hasattr(prices, "columns") and hasattr(prices, "to_numpy"):
        out = _later_price_frame(prices, trail)
    elif isinstance(prices, Mapping):
        out = np.array(
            [
                _price(prices.get(o, prices.get(s)), o)
                for o, s in zip(trail.order_ids, trail.security_ids, strict=True)
            ],
            dtype=float,
        )
    elif hasattr(prices, "security") and callable(prices.security):
        cache: dict[str, float] = {}
        for s in set(trail.security_ids):
            cache[s] = float(prices.security(s).price)
        out = np.array([cache[s] for s in trail.security_ids], dtype=float)
    elif callable(prices):
        fn: Callable[[str, str, dt.datetime], Any] = prices
        out = np.array(
            [
                _price(fn(o, s, t), o)
                for o, s, t in zip(
                    trail.order_ids, trail.security_ids, trail.executed_at, strict=True
                )
            ],
            dtype=float,
        )
    else:
        raise InvalidParameterError(
            "prices",
            type(prices).__name__,
            "must be a mapping, a DataFrame, a callable or a data source",
        )
    bad = ~np.isnan(out) & ~(np.isfinite(out) & (out > 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"prices[{trail.order_ids[k]!r}]", float(out[k]), "must be a finite number > 0"
        )
    return out


def _price(value: Any, order_id: str) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"prices[{order_id!r}]", value, "must be a number") from None


def order_returns(trail: FairnessTrail, later: FloatArray) -> FloatArray:
    """Per order, the P&L of one face unit: ``side x (later - price) / 100`` (NaN: no price)."""
    out: FloatArray = trail.side * (later - trail.price) / 100.0
    return out


def holm(p: FloatArray) -> FloatArray:
    """Holm's step-down adjustment of *p* (NaN stays NaN): family-wise error control."""
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


@attrs.frozen(kw_only=True, eq=False)
class PermutationResult:
    """Each account's P&L on its allocations and how unusual it is under random reallocation.

    Arrays are of shape (n_accounts,), in the order of *account_ids*.

    Attributes:
        account_ids: The accounts.
        pnl: P&L on what each account was allocated (currency).
        excess: Excess P&L ``T_i`` (the test statistic; see the module docstring).
        null_mean: Mean of ``T_i`` under random reallocation (exact).
        null_std: Its standard deviation (exact).
        quantiles: Quantiles `QUANTILES` of the null, shape (n_accounts, 7).
        p_value: One-sided permutation p-value: the account got the winners.
        p_holm: *p_value* adjusted for testing every account (Holm).
        permutations: How many random reallocations were drawn.
        seed: The seed of the draws.
        orders: How many orders had a later price (the others are left out).
        strata: How many (side, lot grid) strata the orders fall in.

    .. versionadded:: 26.1
    """

    account_ids: tuple[str, ...]
    pnl: FloatArray
    excess: FloatArray
    null_mean: FloatArray
    null_std: FloatArray
    quantiles: FloatArray
    p_value: FloatArray
    p_holm: FloatArray
    permutations: int
    seed: int
    orders: int
    strata: int

    @property
    def z(self) -> FloatArray:
        """``(excess - null_mean) / null_std``: how many null deviations above chance."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: FloatArray = np.where(
                self.null_std > 0, (self.excess - self.null_mean) / self.null_std, np.nan
            )
        return out

    def flagged(self, alpha: float = 0.01) -> tuple[str, ...]:
        """The accounts whose Holm-adjusted p-value is below *alpha*."""
        rows = np.flatnonzero(np.nan_to_num(self.p_holm, nan=1.0) < alpha)
        return tuple(self.account_ids[i] for i in rows.tolist())


def _strata(trail: FairnessTrail, used: IntArray) -> IntArray:
    keys = list(
        zip(
            trail.side[used].tolist(),
            trail.min_piece[used].tolist(),
            trail.increment[used].tolist(),
            strict=True,
        )
    )
    index = {key: j for j, key in enumerate(sorted(set(keys)))}
    return np.asarray([index[key] for key in keys], dtype=np.int64)


def permutation_test(
    trail: FairnessTrail,
    returns: FloatArray,
    *,
    permutations: int = 9_999,
    seed: int = 0,
    chunk: int = 500,
) -> PermutationResult:
    """Test every account for "systematically gets the winners".

    Args:
        trail: The orders and allocations.
        returns: Per order, the P&L of one face unit (`order_returns`); NaN
            leaves the order out.
        permutations: How many random reallocations (B); the smallest
            p-value it can give is ``1 / (B + 1)``.
        seed: Seed of the draws (the same seed gives the same p-values).
        chunk: Draws evaluated at a time (memory: chunk x accounts floats).

    Returns:
        The P&L, the statistic and its p-value per account.

    Raises:
        InvalidParameterError: *permutations* or *chunk* < 1, or *returns* of
            the wrong shape.
    """
    for name, value in (("permutations", permutations), ("chunk", chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameterError(name, value, "must be a whole number >= 1")
    r_all = np.asarray(returns, dtype=float)
    if r_all.shape != (trail.n_orders,):
        raise InvalidParameterError(
            "returns", r_all.shape, f"must have shape ({trail.n_orders},), one per order"
        )
    n = trail.n_accounts
    used = np.flatnonzero(~np.isnan(r_all))
    q = trail.matrix(trail.quantity)[used]  # (K, N)
    part = trail.matrix((trail.intent > 0).astype(float))[used] > 0
    placed = trail.placed[used]
    r = r_all[used]
    pnl = r @ q if used.size else np.zeros(n)
    base = (part * placed[:, None]).sum(axis=0)
    share = np.divide(q.sum(axis=0), base, out=np.zeros(n), where=base > 0)
    x = q - part * placed[:, None] * share[None, :]  # (K, N): excess face per order
    excess = r @ x if used.size else np.zeros(n)
    strata = _strata(trail, used)
    # Exact null moments: within a stratum of size m, sum_k x_k r_pi(k) has mean
    # m * xbar * rbar and variance sum (x - xbar)^2 * sum (r - rbar)^2 / (m - 1).
    mean = np.zeros(n)
    var = np.zeros(n)
    for s in range(int(strata.max()) + 1 if strata.size else 0):
        rows = np.flatnonzero(strata == s)
        m = rows.size
        xs, rs = x[rows], r[rows]
        mean += m * xs.mean(axis=0) * rs.mean()
        if m > 1:
            spread = ((rs - rs.mean()) ** 2).sum() / (m - 1)
            var += ((xs - xs.mean(axis=0)) ** 2).sum(axis=0) * spread
    rng = np.random.default_rng(seed)
    by_stratum = np.argsort(strata, kind="stable")
    sorted_strata = strata[by_stratum]
    r_sorted = r[by_stratum]
    x_sorted = x[by_stratum]
    # A tie within rounding counts as "at least as large" (conservative).
    tolerance = 1e-9 * (np.abs(excess) + 1.0)
    above = np.zeros(n, dtype=np.int64)
    kept: list[FloatArray] = []
    # Quantiles for the picture come from the first draws: at most ~2M numbers.
    keep_max = max(200, min(2_000, 2_000_000 // max(n, 1)))
    done = 0
    while done < permutations:
        b = min(chunk, permutations - done)
        keys = rng.random((b, used.size)) + sorted_strata[None, :]
        perm = np.argsort(keys, axis=1)  # a random order within each stratum
        t = r_sorted[perm] @ x_sorted  # (b, N)
        above += (t >= excess[None, :] - tolerance[None, :]).sum(axis=0)
        if sum(len(k) for k in kept) < keep_max:
            kept.append(t)
        done += b
    sample = np.concatenate(kept) if kept else np.zeros((1, n))
    quantiles = np.quantile(sample, QUANTILES, axis=0).T if used.size else np.zeros((n, 7))
    participated = part.any(axis=0)
    p: FloatArray = np.where(participated, (1.0 + above) / (1.0 + permutations), np.nan)
    return PermutationResult(
        account_ids=trail.account_ids,
        pnl=pnl,
        excess=excess,
        null_mean=mean,
        null_std=np.sqrt(var),
        quantiles=quantiles,
        p_value=p,
        p_holm=holm(p),
        permutations=permutations,
        seed=seed,
        orders=int(used.size),
        strata=int(strata.max()) + 1 if strata.size else 0,
    )
