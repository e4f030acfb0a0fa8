"""Draw every picture of the documentation from the code, at build time.

``docs/conf.py`` runs `make` when Sphinx starts, so the pictures always show
what the current code draws; they are written to ``docs/_generated/`` (not
tracked). Run it by hand with ``python docs/_pictures.py``.
"""

from __future__ import annotations

from pathlib import Path

import orderalloc as oa
from orderalloc.plot import plot_compare

OUT = Path(__file__).parent / "_generated"
IG = "037833DX5"


def make(out: Path = OUT) -> list[Path]:
    """Write the pictures into *out*; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    source = oa.MockAladdin()
    bond = source.security(IG)
    group = source.accounts("PUBLICPRE", bond.id)
    buy = oa.Order(security=bond, side="BUY", quantity=100_000_000)
    pro_rata = oa.allocate(buy, group, method="pro_rata")
    min_disp = oa.allocate(buy, group, method="min_dispersion", metric="spread_duration")
    sell = oa.allocate(
        oa.Order(security=bond, side="SELL", quantity=20_000_000), group, method="pro_rata"
    )
    big = oa.allocate(
        oa.Order(security=bond, side="BUY", quantity=50_000_000),
        source.accounts("SMA-10K", bond.id),
        method="min_dispersion",
        metric="spread_duration",
    )
    pictures = {
        "overview.png": lambda p: min_disp.plot(metric=["spread_duration", "duration"], path=p),
        "compare.png": lambda p: plot_compare(
            [pro_rata, min_disp], metric="spread_duration", path=p
        ),
        "relative.png": lambda p: min_disp.plot(
            metric="spread_duration", relative=True, unit="pct_nav", path=p
        ),
        "sell.png": lambda p: sell.plot(metric="spread_duration", path=p),
        "large.png": lambda p: big.plot(metric="spread_duration", path=p),
    }
    written = []
    for name, draw in pictures.items():
        draw(out / name)
        written.append(out / name)
    return written


if __name__ == "__main__":
    for path in make():
        print(path)
