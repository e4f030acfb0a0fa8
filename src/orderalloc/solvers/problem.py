"""The continuous minimum-dispersion problem that every backend solves.

The model
---------
Account *i* of a portfolio group has a NAV ``NAV_i`` and current values
``m_ij`` of the metrics ``j = 1..J`` the order is meant to keep together
(spread duration, usually ``J = 1``). Buying ``q_i`` face of the bond, funded
from cash (which contributes nothing to the metric), moves each metric
linearly::

    x_ij(q_i) = m_ij + s_ij * q_i,   s_ij = side_sign * cash_per_face * b_j / NAV_i

where ``b_j`` is the bond's analytic for metric *j* and ``side_sign`` is +1 for
a buy and -1 for a sell. The engine computes *m* and *s*; the backends see only
them. The dispersion of the group after the trade is::

    f(q) = sum_j c_j sum_i w_i (x_ij - mu_j)^2

with account weights ``w`` (NAV, equal or the user's; ``w >= 0``, summing to 1),
metric weights ``c > 0``, and a centre ``mu`` that is either

* the weighted mean ``mu_j = sum_i w_i x_ij`` (**mean mode**: bring the
  accounts together wherever they end up), or
* fixed targets ``mu_j = T_j`` (**target mode**: bring every account to a
  model value).

The split must satisfy ``lo_i <= q_i <= hi_i`` (cash, holdings, limits) and
``sum_i q_i = total`` (the order). *f* is a convex quadratic, so the
continuous minimum is a lower bound on the dispersion of any legal (lot-rounded)
split; the rounding step starts from it.

Why a fixed centre matters
--------------------------
For a fixed centre *mu* the objective is separable::

    f(q; mu) = sum_i a_i (q_i - t_i)^2 + const
    a_i = sum_j c_j w_i s_ij^2
    t_i = sum_j c_j w_i s_ij (mu_j - m_ij) / a_i

so it is a continuous quadratic knapsack (`orderalloc.solvers.knapsack`).
Target mode is exactly that. Mean mode is ``min over (q, mu)`` of the same
function, because for fixed *q* the best centre is the weighted mean; see
`orderalloc.solvers.exact` for the search over *mu*. `separable_form` gives
``(a, t)`` at a centre, which is also what the lot-rounding step uses.
"""

from __future__ import annotations

import attrs
import numpy as np

from orderalloc.errors import InvalidParameterError
from orderalloc.typing import ArrayLike, BoolArray, FloatArray

__all__ = [
    "DEGENERATE_CURVATURE",
    "ContinuousSolution",
    "DispersionProblem",
    "capacity_split",
    "centre",
    "objective",
    "repair_feasibility",
    "separable_form",
    "weighted_sum",
]

#: Relative curvature given to accounts that cannot move the objective (zero
#: weight or zero sensitivity): ``a_i = DEGENERATE_CURVATURE * max(a)``. Such an
#: account costs nothing in the true problem; the tiny curvature keeps the
#: knapsack strictly convex (unique answer) and changes the objective by a
#: relative amount of order 1e-12.
DEGENERATE_CURVATURE = 1e-12

# Relative slack on sum(lo) <= total <= sum(hi), for totals computed in floats.
_TOTAL_RTOL = 1e-9


def _float_array(value: ArrayLike) -> FloatArray:
    # A private, read-only copy: the problem is a value and must not change
    # under the solver when the caller later edits their array. An array that
    # is already float64, read-only and owns its data (the engine hands over
    # such arrays) cannot change under us, so it is taken by reference.
    if (
        isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and value.flags.owndata
        and not value.flags.writeable
    ):
        return value
    array = np.array(value, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


def weighted_sum(w: FloatArray, x: FloatArray) -> FloatArray:
    """``sum_i w_i x_ij`` per column *j* of *x* (shape (n, J)), as an array of shape (J,).

    Element-wise products and numpy's pairwise sums rather than a BLAS
    matrix-vector product: as fast for one column, the same bits on every
    machine and thread count, and no wait for a second BLAS thread to wake
    on a busy machine (issue 15).
    """
    if x.shape[1] == 1:
        return np.array([np.sum(w * x[:, 0])], dtype=np.float64)
    return np.array([np.sum(w * x[:, j]) for j in range(x.shape[1])], dtype=np.float64)


def _optional_float_array(value: ArrayLike | None) -> FloatArray | None:
    return None if value is None else _float_array(value)


@attrs.frozen(eq=False)
class DispersionProblem:
    """One continuous minimum-dispersion problem (see the module docstring).

    Arrays are copied and made read-only at construction and validated there,
    so a backend can trust them; every error is an `InvalidParameterError`
    naming the field.

    Attributes:
        m: Current metric values, array of shape (n_accounts, n_metrics).
        s: Metric change per unit of face, array of shape (n_accounts, n_metrics).
        w: Account weights, array of shape (n_accounts,), ``>= 0`` and summing
            to 1 (to 1e-8).
        c: Metric weights, array of shape (n_metrics,), all ``> 0``.
        lo: Lower bounds on the face bought, array of shape (n_accounts,).
        hi: Upper bounds on the face bought, array of shape (n_accounts,),
            finite and ``>= lo``.
        total: The face to split: ``sum(q) == total``; must lie in
            ``[sum(lo), sum(hi)]``.
        target: Fixed centres ``T``, array of shape (n_metrics,) (target
            mode), or None for the weighted mean (mean mode).

    Raises:
        InvalidParameterError: If a shape, value or the total is not acceptable.

    .. versionadded:: 0.1.0
    """

    m: FloatArray = attrs.field(converter=_float_array)
    s: FloatArray = attrs.field(converter=_float_array)
    w: FloatArray = attrs.field(converter=_float_array)
    c: FloatArray = attrs.field(converter=_float_array)
    lo: FloatArray = attrs.field(converter=_float_array)
    hi: FloatArray = attrs.field(converter=_float_array)
    total: float = attrs.field(converter=float)
    target: FloatArray | None = attrs.field(default=None, converter=_optional_float_array)
    # The centre-independent part of the separable form, computed once on
    # first use and shared by the backend and the engine's rounding objective.
    _separable: _Separable | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        self._validate()

    @property
    def n_accounts(self) -> int:
        """The number of accounts *n*."""
        return int(self.m.shape[0])

    @property
    def n_metrics(self) -> int:
        """The number of metrics *J*."""
        return int(self.m.shape[1])

    @property
    def mean_mode(self) -> bool:
        """Whether the centre is the weighted mean (no *target*)."""
        return self.target is None

    def _validate(self) -> None:
        if self.m.ndim != 2 or self.m.shape[0] < 1 or self.m.shape[1] < 1:
            raise InvalidParameterError(
                "m", self.m.shape, "must be a 2-D array of shape (n_accounts, n_metrics)"
            )
        n, n_metrics = self.m.shape
        expected = {
            "s": (self.s, (n, n_metrics)),
            "w": (self.w, (n,)),
            "c": (self.c, (n_metrics,)),
            "lo": (self.lo, (n,)),
            "hi": (self.hi, (n,)),
        }
        if self.target is not None:
            expected["target"] = (self.target, (n_metrics,))
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise InvalidParameterError(
                    name, array.shape, f"must have shape {shape} to match m of shape {self.m.shape}"
                )
        arrays = {"m": self.m, **{name: array for name, (array, _) in expected.items()}}
        for name, array in arrays.items():
            if not np.isfinite(array).all():
                where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                raise InvalidParameterError(
                    f"{name}[{', '.join(map(str, where))}]",
                    array[where],
                    "must be finite (no NaN or infinity)",
                )
        if (self.w < 0).any():
            bad = int(np.argmin(self.w))
            raise InvalidParameterError(f"w[{bad}]", self.w[bad], "account weights must be >= 0")
        w_sum = float(self.w.sum())
        if not abs(w_sum - 1.0) <= 1e-8:
            raise InvalidParameterError(
                "w", w_sum, "account weights must sum to 1 (divide by their sum first)"
            )
        if (self.c <= 0).any():
            bad = int(np.argmin(self.c))
            raise InvalidParameterError(f"c[{bad}]", self.c[bad], "metric weights must be > 0")
        if (self.hi < self.lo).any():
            bad = int(np.argmax(self.lo - self.hi))
            raise InvalidParameterError(
                f"hi[{bad}]", self.hi[bad], f"must be >= lo[{bad}]={self.lo[bad]!r}"
            )
        if not np.isfinite(self.total):
            raise InvalidParameterError("total", self.total, "must be finite")
        sum_lo, sum_hi = float(self.lo.sum()), float(self.hi.sum())
        slack = _TOTAL_RTOL * max(1.0, abs(self.total), abs(sum_lo), abs(sum_hi))
        if not sum_lo - slack <= self.total <= sum_hi + slack:
            raise InvalidParameterError(
                "total",
                self.total,
                f"must lie within [sum(lo), sum(hi)] = [{sum_lo!r}, {sum_hi!r}]",
            )


@attrs.frozen(eq=False)
class ContinuousSolution:
    """The continuous optimum found by a backend.

    Its *objective* is a lower bound on the dispersion of every legal split
    (up to the backend's tolerance), which is how the engine reports the cost
    of lot rounding.

    Attributes:
        q: The split, array of shape (n_accounts,); within ``[lo, hi]`` and
            summing to *total* (every backend repairs rounding errors).
        mu: The centre, array of shape (n_metrics,): the weighted mean of the
            metrics after the trade (mean mode) or the targets (target mode).
        objective: ``f(q)``, evaluated exactly by `objective`.
        backend: The backend's name (``"exact"``, ``"slsqp"``, ``"convex"``).
        status: The solver's own status word (``"optimal"``,
            ``"optimal_inaccurate"``, SciPy's message...).
        iterations: The backend's iteration count (for ``"exact"``: knapsack
            solves).

    .. versionadded:: 0.1.0
    """

    q: FloatArray
    mu: FloatArray
    objective: float
    backend: str
    status: str
    iterations: int

    @classmethod
    def of(
        cls,
        problem: DispersionProblem,
        q: FloatArray,
        *,
        backend: str,
        status: str,
        iterations: int,
    ) -> ContinuousSolution:
        """The solution *q* of *problem*, with its centre and objective evaluated exactly."""
        x = problem.m + problem.s * q[:, None]
        mu = _centre_of(problem, x)
        return cls(
            q=q,
            mu=mu,
            objective=_objective_of(problem, x, mu),
            backend=backend,
            status=status,
            iterations=iterations,
        )


def centre(problem: DispersionProblem, q: FloatArray) -> FloatArray:
    """The centre ``mu`` of the metrics after buying *q*.

    Args:
        problem: The problem.
        q: A split, array of shape (n_accounts,).

    Returns:
        Array of shape (n_metrics,): the *w*-weighted mean of ``m + s * q``
        in mean mode, a copy of the targets in target mode.
    """
    if problem.target is not None:
        return np.array(problem.target, dtype=np.float64)
    return _centre_of(problem, problem.m + problem.s * q[:, None])


def _centre_of(problem: DispersionProblem, x: FloatArray) -> FloatArray:
    """`centre` given the metrics after the trade, ``x = m + s * q``."""
    if problem.target is not None:
        return np.array(problem.target, dtype=np.float64)
    mu: FloatArray = weighted_sum(problem.w, x) / problem.w.sum()
    return mu


def _objective_of(problem: DispersionProblem, x: FloatArray, mu: FloatArray) -> float:
    """`objective` given ``x = m + s * q`` and its centre *mu*."""
    dev = x - mu
    return float(np.sum(weighted_sum(problem.w, dev * dev) * problem.c))


def objective(problem: DispersionProblem, q: FloatArray) -> float:
    """The dispersion ``f(q)``, evaluated directly from the deviations.

    In mean mode the centre is recomputed from *q*, so this is the true
    objective of *q* whether or not *q* is optimal.

    Args:
        problem: The problem.
        q: A split, array of shape (n_accounts,).

    Returns:
        ``sum_j c_j sum_i w_i (x_ij - mu_j)^2``.
    """
    x = problem.m + problem.s * q[:, None]
    return _objective_of(problem, x, _centre_of(problem, x))


def separable_form(problem: DispersionProblem, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The knapsack ``sum_i a_i (q_i - t_i)^2`` that equals *f* at a fixed centre.

    For a fixed centre *mu*, ``f(q; mu) = sum_i a_i (q_i - t_i)^2 + const`` with
    ``a_i = sum_j c_j w_i s_ij^2`` and
    ``t_i = sum_j c_j w_i s_ij (mu_j - m_ij) / a_i`` (for ``J = 1``, ``t_i``
    is the face that brings account *i* exactly to *mu*).

    An account with ``a_i == 0`` (zero weight or zero sensitivity) cannot move
    the objective. It gets ``a_i = DEGENERATE_CURVATURE * max(a)`` (1 if every
    ``a`` is 0) and ``t_i = lo_i``, so the knapsack stays strictly convex and
    such an account takes only what the others cannot use. A live account
    keeps its own curvature, however small: raising it would change the
    problem (with NAVs 1e8 apart, curvatures are 1e16 apart).

    Args:
        problem: The problem.
        mu: The centre, array of shape (n_metrics,).

    Returns:
        ``(a, t)``, two arrays of shape (n_accounts,), every ``a_i > 0``.
    """
    return _separable(problem).at(np.asarray(mu, dtype=np.float64))


def _separable(problem: DispersionProblem) -> _Separable:
    """The problem's `_Separable`, built on first use (the problem is immutable)."""
    sep = problem._separable
    if sep is None:
        sep = _Separable(problem)
        object.__setattr__(problem, "_separable", sep)
    return sep


def _forget_separable(problem: DispersionProblem) -> None:
    """Drop the problem's `_Separable` (five arrays of n): built again if asked for.

    The engine keeps the problem for the dispersion of the rounded split;
    once the rounding objective is taken, the separable form is only memory.
    """
    object.__setattr__(problem, "_separable", None)


class _Separable:
    """``separable_form`` with the centre-independent parts computed once."""

    def __init__(self, problem: DispersionProblem) -> None:
        # v_ij = w_i s_ij: how much account i's face moves the mean of metric j.
        self.v: FloatArray = problem.w[:, None] * problem.s
        # Unit metric weights (one metric, usually) leave v as it is: share it.
        vc = self.v if bool((problem.c == 1.0).all()) else self.v * problem.c
        a_raw = (vc * problem.s).sum(axis=1)
        a_max = float(a_raw.max())
        floor = DEGENERATE_CURVATURE * a_max if a_max > 0 else 1.0
        self.live: BoolArray = a_raw > 0
        # Only dead accounts get the floor: raising a live account's curvature
        # to it (NAVs spanning 1e3 to 1e11 put curvatures 1e16 apart) changed
        # the problem, by 1e-5 to a few % of the objective.
        self.a: FloatArray = np.where(self.live, a_raw, floor)
        self.a_raw = np.where(self.live, a_raw, 1.0)
        self.vc: FloatArray = vc
        self.vcm: FloatArray = (vc * problem.m).sum(axis=1)
        self.lo = problem.lo
        # sum_i w_i m_ij: the mean before the trade, used by every mean evaluation.
        self.wm: FloatArray = weighted_sum(problem.w, problem.m)
        self._r: FloatArray | None = None
        self._fixed_mean: bool | None = None
        # The last centre asked for and its answer: the mean-mode search asks
        # twice at each centre (the knapsack, then the slope of its piece).
        self._last: tuple[bytes, FloatArray] | None = None

    @property
    def r(self) -> FloatArray:
        """``1 / (2 a)``: how far each account moves per unit of the knapsack's multiplier."""
        if self._r is None:
            self._r = 0.5 / self.a
        return self._r

    @property
    def fixed_mean(self) -> bool:
        """True when ``v_ij = w_i s_ij`` is one value per metric: the split cannot move the mean.

        Then the mean after the trade is ``wm + v * total`` whatever the split
        (NAV weights), and one knapsack solve is the exact optimum.
        """
        if self._fixed_mean is None:
            v = self.v
            self._fixed_mean = bool((np.ptp(v, axis=0) <= 1e-12 * np.abs(v).max(axis=0)).all())
        return self._fixed_mean

    def at(self, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
        # vc @ mu without BLAS; one metric needs no sum at all.
        if mu.shape[0] == 1:
            t = (self.vc[:, 0] * mu[0] - self.vcm) / self.a_raw
        else:
            t = ((self.vc * mu).sum(axis=1) - self.vcm) / self.a_raw
        return self.a, np.where(self.live, t, self.lo)

    def at_shared(self, mu: FloatArray) -> FloatArray:
        """`at`'s *t*, read-only, remembered for the last centre asked for."""
        key = mu.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        t = self.at(mu)[1]
        t.setflags(write=False)
        self._last = (key, t)
        return t


def capacity_split(problem: DispersionProblem) -> FloatArray:
    """A feasible split: each account gets the same fraction of its room.

    ``q_i = lo_i + (total - sum(lo)) * (hi_i - lo_i) / sum(hi - lo)``. The
    iterative backends start from it and scale the objective by its value.

    Args:
        problem: The problem.

    Returns:
        Array of shape (n_accounts,), within bounds and summing to *total*.
    """
    room = problem.hi - problem.lo
    room_total = float(room.sum())
    if room_total <= 0.0:
        return np.array(problem.lo, dtype=np.float64)
    q = problem.lo + (problem.total - float(problem.lo.sum())) * (room / room_total)
    return np.asarray(np.clip(q, problem.lo, problem.hi), dtype=np.float64)


def repair_feasibility(problem: DispersionProblem, q: FloatArray) -> FloatArray:
    """Make an approximate solver's split satisfy the bounds and total exactly.

    Clips *q* to ``[lo, hi]`` and spreads the remaining gap to *total* over the
    accounts in proportion to their room on the needed side, which never
    breaks a bound because the gap is at most the total room.

    Args:
        problem: The problem.
        q: A nearly feasible split, array of shape (n_accounts,).

    Returns:
        A new split, within bounds and summing to *total* (to rounding).
    """
    fixed = np.clip(np.asarray(q, dtype=np.float64), problem.lo, problem.hi)
    gap = problem.total - float(fixed.sum())
    if gap == 0.0:
        return fixed
    room = (problem.hi - fixed) if gap > 0 else (fixed - problem.lo)
    room_total = float(room.sum())
    if room_total <= 0.0:
        return fixed
    fixed = fixed + gap * (room / room_total)
    return np.asarray(np.clip(fixed, problem.lo, problem.hi), dtype=np.float64)
