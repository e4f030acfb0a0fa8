"""Run every benchmark in turn, then refresh the figures quoted in README.md and the docs.

``python benchmarks/run_all.py`` (or ``nox -s bench``) runs the scripts below;
results land in ``benchmarks/results/`` as CSV, JSON and Markdown, each with
the command that reproduces it. ``python benchmarks/run_all.py --figures-only``
only rewrites the quoted figures from the results already there.

The quoted figures live between marker comments (``<!-- speed:start -->`` in
README.md, ``% figures:start`` in the MyST docs) and are rewritten whole, so
the prose around them is never touched.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SCRIPTS = [
    ["bench_targets.py"],
    ["bench_targets.py", "--clock", "cpu"],
    ["bench_pro_rata.py"],
    ["bench_min_dispersion.py"],
    ["bench_continuous.py"],
    ["bench_fills.py"],
    ["bench_aladdin_load.py"],
    ["bench_basket.py"],
    ["campaign.py"],
]


def _replace(path: Path, name: str, body: str, *, html: bool) -> None:
    """Rewrite the block between *name*'s start and end markers in *path*."""
    start, end = (
        (f"<!-- {name}:start -->", f"<!-- {name}:end -->")
        if html
        else (f"% {name}:start", f"% {name}:end")
    )
    text = path.read_text()
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {start} ... {end} block to refresh")
    path.write_text(pattern.sub(lambda _: f"{start}\n{body.rstrip()}\n{end}", text))


def _size(data: dict[str, Any], n: int) -> dict[str, Any]:
    return next(r for r in data["sizes"] if r["accounts"] == n)


def _ms(stat: dict[str, float]) -> str:
    return f"{stat['median'] * 1e3:.0f} ms"


def speed_bullets(data: dict[str, Any]) -> str:
    """README's Speed bullets: medians at 100,000 and 1,000,000 accounts."""
    k100 = _size(data, 100_000)
    lines = []
    clarabel = k100.get("clarabel_over_allocate")
    versus = (
        f", {clarabel['nav']['median']:.0f}x (NAV weights) and "
        f"{clarabel['equal']['median']:.0f}x (equal weights) faster than cvxpy + "
        "Clarabel's continuous solve alone"
        if clarabel
        else ""
    )
    lines.append(
        "- min dispersion, 100,000 accounts as columns: the whole `allocate` call "
        "(exact backend, rounding to denominations, reasons, summary) in "
        f"{_ms(k100['allocate_table_nav_s'])}{versus};"
    )
    pro_rata = k100["pro_rata_over_numpy"]
    times = [v["median"] for k, v in pro_rata.items() if k.endswith("_allocate_s")]
    ratios = [v["median"] for k, v in pro_rata.items() if not k.endswith("_allocate_s")]
    lines.append(
        f"- pro-rata, 100,000 accounts: {min(times) * 1e3:.0f} to {max(times) * 1e3:.0f} ms "
        "including caps, exact denominations and the explained result "
        f"({min(ratios):.0f}x to {max(ratios):.0f}x a bare numpy proportional split, "
        "which places nothing tradable);"
    )
    million = next((r for r in data["sizes"] if r["accounts"] == 1_000_000), None)
    if million is not None:
        lines.append(
            "- 1,000,000 accounts from a plain dict of columns, min dispersion: "
            f"{million['allocate_dict_nav_s']['median']:.2f} s, peak memory "
            f"{million['peak_over_input']['ratio']:.1f}x the numeric input;"
        )
    imports = data["import"]
    first = imports.get("first_engine_s")
    floor = imports["numpy_attrs_s"]["median"]
    lines.append(
        f"- `import orderalloc`: {imports['orderalloc_s']['median']:.2f} s "
        "(engines and adapters load on first use)"
        + (
            f"; up to the first engine {first['median']:.2f} s, of which numpy and attrs "
            f"alone take {floor:.2f} s."
            if first
            else f", of which numpy and attrs alone take {floor:.2f} s."
        )
    )
    lines.append("")
    clock = data.get("clock", "wall")
    lines.append(
        f"Medians of interleaved rounds, {clock} time; min, median and max of every ratio "
        "at 10,000, 100,000 and 1,000,000 accounts, in wall and in CPU time, in "
        "`benchmarks/results/targets.md` and `targets_cpu.md`."
    )
    return "\n".join(
        textwrap.fill(line, 80, subsequent_indent="  " if line.startswith("- ") else "")
        for line in lines
    )


def design_sentence(data: dict[str, Any]) -> str:
    """docs/design.md's one sentence of figures."""
    k100 = _size(data, 100_000)
    pro_rata = k100["pro_rata_over_numpy"]
    times = [v["median"] for k, v in pro_rata.items() if k.endswith("_allocate_s")]
    return textwrap.fill(
        f"The payoff is measured in `benchmarks/results/` ({data.get('clock', 'wall')} time, "
        "medians): a pro-rata allocation of "
        f"100,000 accounts, legal amounts and reasons included, takes {min(times) * 1e3:.0f} "
        f"to {max(times) * 1e3:.0f} ms, and a "
        f"minimum-dispersion one {_ms(k100['allocate_table_nav_s'])} "
        "({doc}`explain/min_dispersion`).",
        80,
    )


def _table_of(markdown: Path) -> str:
    """The Markdown table of a results file (its lines starting with ``|``)."""
    return "\n".join(line for line in markdown.read_text().splitlines() if line.startswith("|"))


def refresh_figures() -> None:
    """Rewrite the quoted figures in README.md and the docs from benchmarks/results/.

    The prose quotes CPU-time medians when they were measured: on a shared
    machine, wall-clock medians mostly measure the other processes.
    """
    cpu = RESULTS / "targets_cpu.json"
    data = json.loads((cpu if cpu.exists() else RESULTS / "targets.json").read_text())
    _replace(ROOT / "README.md", "speed", speed_bullets(data), html=True)
    _replace(ROOT / "docs" / "design.md", "figures", design_sentence(data), html=False)
    page = ROOT / "docs" / "explain" / "min_dispersion.md"
    _replace(page, "figures", _table_of(RESULTS / "min_dispersion.md"), html=False)
    _replace(page, "targets", (RESULTS / "targets.md").read_text(), html=False)
    if cpu.exists():
        _replace(page, "targets-cpu", (RESULTS / "targets_cpu.md").read_text(), html=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures-only", action="store_true")
    args = parser.parse_args()
    if not args.figures_only:
        for script, *options in SCRIPTS:
            print(f"== {script} {' '.join(options)}", flush=True)
            # The campaign writes to ./campaign-out unless told: refresh the tracked tables.
            extra = ["--out", str(RESULTS)] if script == "campaign.py" else []
            command = [sys.executable, str(HERE / script), *options, *extra]
            code = subprocess.call(command, cwd=ROOT)
            if code:
                print(f"{script} failed with exit code {code}", file=sys.stderr)
                return code
    refresh_figures()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
