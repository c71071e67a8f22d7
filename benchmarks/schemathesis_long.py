"""A long Schemathesis run: every operation of the OpenAPI document, many examples each.

The same harness as tests/reliability/test_schemathesis.py (a real, seeded server; a
logged-in fuzzer; the same checks: no 5xx, documented status codes, content types and
body schemas, requests that break the schema refused), with many more generated
requests than CI can afford. It prints one line per operation and a summary: operations
tested, requests sent, failures, with the report of the first failure of each operation
(a curl command that reproduces it). It exits with 1 if anything failed.

    python benchmarks/schemathesis_long.py [--positive 300] [--negative 100] [--only TEXT]

Cost: 2.5 to 4.5 minutes on the 2-core development machine with the defaults (22,809 requests).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the harness lives in the tests package

from schemathesis import GenerationMode  # noqa: E402

from tests.reliability.test_schemathesis import fuzz, seeded_server, takes_input  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positive", type=int, default=300, help="requests that fit the schema, per operation")
    parser.add_argument("--negative", type=int, default=100, help="requests that break it, per operation that takes input")
    parser.add_argument("--only", default="", help="test only the operations whose label contains this")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per seeding request is noise here

    started = time.monotonic()
    totals = {"operations": 0, "positive": 0, "negative": 0, "failures": 0}
    reports: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, seeded_server(Path(tmp)) as target:
        operations = [result.ok() for result in target.schema.get_all_operations()]
        for operation in operations:
            if args.only not in operation.label:
                continue
            positive, failures = fuzz(target, operation, GenerationMode.POSITIVE, args.positive)
            negative = 0
            if takes_input(operation):
                negative, refused_badly = fuzz(target, operation, GenerationMode.NEGATIVE, args.negative)
                failures += refused_badly
            totals["operations"] += 1
            totals["positive"] += positive
            totals["negative"] += negative
            totals["failures"] += len(failures)
            print(f"{operation.label:60} {positive:5} fit {negative:5} break {len(failures):4} failed", flush=True)
            if failures:
                reports.append(f"== {operation.label}\n{failures[0]}")
        alive = target.server.process.poll() is None
    for report in reports:
        print(report)
    seconds = time.monotonic() - started
    print(
        f"\n{totals['operations']} operations, {totals['positive'] + totals['negative']} requests "
        f"({totals['positive']} fitting the schema, {totals['negative']} breaking it), "
        f"{totals['failures']} failures, server {'up' if alive else 'DOWN'} at the end, {seconds:.0f} s"
    )
    return 1 if totals["failures"] or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
