"""Counts the Kafka requests a process sends, by type, for bench/pipeline.py.

On PYTHONPATH with KABAR_BENCH_REQUESTS=<file>, every request an aiokafka connection sends
is counted, and the counts are written to <file> as JSON every 0.2 s (a `kabar worker`
process is stopped by a signal: no exit hook is sure to run)."""

import os

if os.environ.get("KABAR_BENCH_REQUESTS"):
    import importlib.util
    from pathlib import Path

    # loaded by path: a worker run from another source tree (`--against`) has its own bench/
    spec = importlib.util.spec_from_file_location(
        "kabar_bench_requests_sent", Path(__file__).resolve().parent.parent / "requests_sent.py")
    requests_sent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(requests_sent)
    requests_sent.count_requests()
    requests_sent.write_counts_every(Path(os.environ["KABAR_BENCH_REQUESTS"]), 0.2)
