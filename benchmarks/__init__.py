"""actlab benchmarks: ``python -m benchmarks.kernels``, ``python -m benchmarks.import_time``, ..."""
