#!/usr/bin/env python3
"""gcsum.py: the garbage collections of an intake run, from its GODEBUG=gctrace=1 lines.

    scripts/gcsum.py UNTIL_SECONDS GCTRACE_FILE...

Counts the collections that started within UNTIL_SECONDS of the process's start (the
drain: intake-bench prints "all acknowledged after X s"), and sums their CPU time (the
five "ms cpu" parts: both stop-the-world phases, assists, background and idle marking)
and their stop-the-world wall time (the first and last "ms clock" parts); it also prints
the longest pause and the heap goals seen. Issue 12, BENCHMARKS.md "A floor under the heap".

The trace comes from a wrapper given to intake-bench as -intake, for example:
    printf '#!/bin/sh\\nGODEBUG=gctrace=1 exec /tmp/intake "$@" 2>>/tmp/gctrace-$$.txt\\n' > /tmp/intake-gct
"""
import re
import sys

LINE = re.compile(
    r"gc (\d+) @([\d.]+)s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, "
    r"([\d.]+)\+([\d.]+)/([\d.]+)/([\d.]+)\+([\d.]+) ms cpu, [\d>-]+ MB, (\d+) MB goal")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    until = float(sys.argv[1])
    for path in sys.argv[2:]:
        cycles, cpu, stw, longest, goals = 0, 0.0, 0.0, 0.0, []
        with open(path) as f:
            for line in f:
                m = LINE.search(line)
                if not m or float(m.group(2)) > until:
                    continue
                cycles += 1
                cpu += sum(float(m.group(i)) for i in range(6, 11))
                pause = float(m.group(3)) + float(m.group(5))
                stw += pause
                longest = max(longest, float(m.group(3)), float(m.group(5)))
                goals.append(int(m.group(11)))
        if not cycles:
            print(f"{path}: no collections in the first {until} s")
            continue
        print(f"{path}: {cycles} collections in the first {until} s, GC CPU {cpu:.1f} ms, "
              f"stop-the-world {stw:.1f} ms in all, longest pause {longest:.2f} ms, "
              f"heap goal {min(goals)}-{max(goals)} MB")


if __name__ == "__main__":
    main()
