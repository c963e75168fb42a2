#!/usr/bin/python3
"""Check the form of `yz bench AREA --json` output (not its speed).

Usage: check_bench_json.py YZ AREA FIGURE...
Runs the benchmark with --quick (a tiny time budget, no long runs: for the
link area no 1,000/5,000/10,000-link figures) and checks that every line is
one JSON object with exactly the keys figure, value, unit, baseline,
baseline_value and ratio, of the right types, and that each FIGURE named
on the command line appears. Timing is never asserted.
"""
import json
import subprocess
import sys

KEYS = {"figure", "value", "unit", "baseline", "baseline_value", "ratio"}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    yz, area, want = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = subprocess.run([yz, "bench", area, "--json", "--quick",
                          "--seconds", "0.05"],
                         stdout=subprocess.PIPE, text=True, check=True,
                         timeout=300).stdout
    lines = out.splitlines()
    if not lines:
        print("no output")
        return 1
    seen = set()
    for line in lines:
        obj = json.loads(line)
        if not isinstance(obj, dict) or set(obj) != KEYS:
            print("wrong keys: %s" % line)
            return 1
        ok = (isinstance(obj["figure"], str) and
              obj["figure"].startswith(area + ".") and
              isinstance(obj["unit"], str) and obj["unit"] and
              isinstance(obj["value"], (int, float)) and obj["value"] > 0 and
              (obj["baseline"] is None or isinstance(obj["baseline"], str)) and
              isinstance(obj["baseline_value"], (int, float)) and
              isinstance(obj["ratio"], (int, float)) and obj["ratio"] > 0)
        if not ok:
            print("bad values: %s" % line)
            return 1
        if obj["figure"] in seen:
            print("figure twice: %s" % obj["figure"])
            return 1
        seen.add(obj["figure"])
    missing = [f for f in want if f not in seen]
    if missing:
        print("missing figures: %s" % ", ".join(missing))
        return 1
    print("%d figures, all well-formed" % len(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
