"""Peak memory and time of ``simplexgrad correct`` on a large ``.npy`` against plain NumPy.

Writes a float32 map file of ``--megabytes`` (default 256 MB: 64,000 maps of 250 x 4), then runs, each in a
fresh process, ``simplexgrad correct --in maps.npy --out corrected.npy --report report.tsv`` (which reads and
writes the file in blocks and also computes the per-sequence angle statistics) and the bare NumPy
equivalent of the correction alone (``x = numpy.load(...); numpy.save(..., x - x.mean(-1, keepdims=True))``).
Reports each one's peak resident memory (``VmHWM``, Linux) and wall time, the median of ``--repeats``
runs.

    python benchmarks/correct_memory.py [--megabytes 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# The peak is VmHWM, this process's own high-water mark: ru_maxrss would count the parent's memory at the
# fork (Linux keeps it across exec).
PROBE = """
import json, sys, time
started = time.perf_counter()
{body}
seconds = time.perf_counter() - started
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({{"peak": peak, "seconds": seconds}}))
"""
OURS = """
from simplexgrad.cli import main
code = main(["correct", "--in", sys.argv[1], "--out", sys.argv[2], "--report", sys.argv[3]])
assert code == 0, code
"""
NUMPY = """
import numpy as np
x = np.load(sys.argv[1])
np.save(sys.argv[2], x - x.mean(axis=-1, keepdims=True))
"""


def measure(body: str, *argv: str) -> dict:
    """Peak RSS (bytes) and seconds of ``body`` run in a fresh interpreter with ``argv``."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body), *argv], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256, help="size of the map file (MB, 10^6 bytes)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = args.megabytes * 1_000_000 // (250 * 4 * 4)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "maps.npy"
        rng = np.random.default_rng(0)
        handle = np.lib.format.open_memmap(source, mode="w+", dtype=np.float32, shape=(rows, 250, 4))
        for start in range(0, rows, 4096):  # written in blocks: this process stays small too
            block = handle[start : start + 4096]
            block[...] = rng.normal(size=block.shape)
        handle.flush()
        del handle
        size = source.stat().st_size
        runs = {"simplexgrad correct": [], "NumPy": []}
        for _ in range(args.repeats):
            out = [str(Path(folder) / name) for name in ("c.npy", "r.tsv")]
            runs["simplexgrad correct"].append(measure(OURS, str(source), *out))
            runs["NumPy"].append(measure(NUMPY, str(source), str(Path(folder) / "n.npy")))
    print(f"map file: {size / 1e6:.0f} MB ({rows} x 250 x 4 float32)")
    for name, measured in runs.items():
        peak = statistics.median(run["peak"] for run in measured)
        seconds = statistics.median(run["seconds"] for run in measured)
        print(f"{name:20s} peak {peak / 1e9:.2f} GB ({peak / size:.2f} x the file), {seconds:.2f} s")


if __name__ == "__main__":
    main()
