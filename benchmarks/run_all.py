"""Run every benchmark in turn: ``python benchmarks/run_all.py`` (or ``nox -s bench``).

Results land in ``benchmarks/results/`` as CSV and Markdown, each with the
command that reproduces it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "bench_pro_rata.py",
    "bench_min_dispersion.py",
    "bench_continuous.py",
    "bench_fills.py",
    "bench_aladdin_load.py",
    "campaign.py",
]


def main() -> int:
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script)], cwd=HERE.parent)
        if code:
            print(f"{script} failed with exit code {code}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
