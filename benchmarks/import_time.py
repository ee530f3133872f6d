"""Wall time of `import actlab` in a fresh interpreter: median of repeated runs.

Run: python -m benchmarks.import_time
"""

import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import actlab; print(time.perf_counter() - t)"


def main(repeats: int = 9) -> None:
    times = [float(subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    print(f"import actlab: median {statistics.median(times) * 1e3:.0f} ms, "
          f"min {min(times) * 1e3:.0f} ms over {repeats} runs (target < 300 ms)")


if __name__ == "__main__":
    main()
