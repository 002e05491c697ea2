#!/usr/bin/env python3
"""acktrace.py: where intake's turnaround goes, from a Go execution trace and a capture.

    go tool trace -d=parsed TRACE > TRACE.txt
    scripts/acktrace.py TRACE.txt CAPTURE

TRACE is a runtime/trace of "intake serve" during a drain (a throwaway build: intake
writes no trace; BENCHMARKS.md "One flush per batch" shows the patch), CAPTURE the same
drain recorded by scripts/ackwire.sh. For each time the responder goroutine (the one whose
stack holds ackPipeline.run) is woken from a network wait, the script takes the server's
reply before it on the wire and splits the time until intake's next write of an
acknowledgement's data: reply → runnable (the runtime noticed), runnable → running,
running → the write's system call, system call → wire. The trace's clock is mapped to the
wall clock with its first Sync event. Issue 12.
"""
import bisect
import datetime
import re
import subprocess
import sys

TRANSITION = re.compile(r'M=\S+ P=\S+ G=\S+ StateTransition Time=(\d+) GoID=(\d+) (\S+)->(\S+) Reason="([^"]*)"')


def trace_events(path):
    """The state transitions of every goroutine, with the stack at each, and the wall-clock offset."""
    events, offset, block, stack = [], None, None, []
    for line in open(path):
        if line.startswith("M="):
            if block:
                events.append((block, stack))
            block, stack = None, []
            if offset is None and " Sync " in line:
                m = re.search(r"Mono=(\d+) Wall=(\S+)", line)
                wall = datetime.datetime.fromisoformat(m[2].replace("Z", "")[:26] + "+00:00").timestamp()
                offset = wall - int(m[1]) / 1e9
            m = TRANSITION.match(line)
            if m:
                block = (int(m[1]), int(m[2]), m[3], m[4], m[5])
        elif line.startswith("\t") and not line.startswith("\t\t"):
            stack.append(line.strip().split(" @")[0])
    if block:
        events.append((block, stack))
    return events, offset


def main():
    events, offset = trace_events(sys.argv[1])
    gid = next(b[1] for b, st in events if any("ackPipeline).run" in f for f in st))
    wall = lambda t: offset + t / 1e9
    woken, running, writes, last_wait = [], [], [], None
    for (t, g, frm, to, reason), st in events:
        if g != gid:
            continue
        if frm == "Waiting" and to == "Runnable" and last_wait == "network":
            woken.append(wall(t))
        if frm == "Runnable" and to == "Running" and woken and (not running or running[-1] < woken[-1]):
            running.append(wall(t))
        if to == "Syscall" and any("tls.(*Conn).write" in f for f in st):
            writes.append(wall(t))
        if to == "Waiting":
            last_wait = reason
    from ackwire import packets
    pk = packets(sys.argv[2])
    replies = [t for t, who, n in pk if who == "s"]
    data = [t for t, who, n in pk if who == "c" and n > 1000]
    parts = {"reply → runnable": [], "runnable → running": [], "running → write": [], "write → wire": []}
    for u in woken:
        i = bisect.bisect_right(replies, u) - 1
        j, k, c = bisect.bisect_left(running, u), bisect.bisect_left(writes, u), bisect.bisect_left(data, u)
        if i < 0 or j >= len(running) or k >= len(writes) or c >= len(data) or data[c] - replies[i] > 0.02:
            continue
        parts["reply → runnable"].append(u - replies[i])
        parts["runnable → running"].append(running[j] - u)
        parts["running → write"].append(writes[k] - running[j])
        parts["write → wire"].append(data[c] - writes[k])
    for name, v in parts.items():
        v = sorted(v)
        print("%-20s n %4d  mean %.3f  p50 %.3f  p99 %.3f ms" % (name, len(v), sum(v) / len(v) * 1000, v[len(v) // 2] * 1000, v[int(len(v) * 0.99)] * 1000))
    waits = sum(1 for (t, g, frm, to, reason), st in events if g == gid and to == "Waiting" and reason == "network")
    print("the responder waited on the network %d times" % waits)


if __name__ == "__main__":
    main()
