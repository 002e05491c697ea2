#!/usr/bin/env python3
"""ackwire.py: intake's acknowledgements on the wire, from a capture of scripts/ackwire.sh.

    scripts/ackwire.py CAPTURE [DAEMON_LOG]

The first client port in the capture is intake's connection to the submission port. Each
client write of more than 1000 bytes is an acknowledgement's data (with its end of data
and the next envelope, RFC 2920); the server's next reply ends the server's time, and
intake's next write after that reply ends intake's turnaround. A client write of fewer
than 1000 bytes right after a reply is an envelope with nothing pipelined before it (a
round's start). With the daemon's log at info level (ACKWIRE_LOG), the acknowledgements
are also grouped by the time until the next registration batch was committed (its "mail
registered" lines). Issue 12, BENCHMARKS.md "One flush per batch".
"""
import bisect
import datetime
import re
import subprocess
import sys


def packets(capture):
    out = subprocess.run(["tcpdump", "-r", capture, "-n", "-tt"], capture_output=True, text=True, check=True).stdout
    pk, client = [], None
    for line in out.splitlines():
        m = re.match(r"(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+): .* length (\d+)", line)
        if not m:
            continue
        t, src, dst, n = float(m[1]), m[2], m[3], int(m[4])
        client = client or src
        if n and client in (src, dst):
            pk.append((t, "c" if src == client else "s", n))
    return pk


def acks(pk):
    """(time of the data write, server's time, intake's turnaround) per acknowledgement but the last."""
    out = []
    data = [i for i, p in enumerate(pk) if p[1] == "c" and p[2] > 1000]
    for i in data[:-1]:
        j = next((j for j in range(i + 1, len(pk)) if pk[j][1] == "s"), None)
        k = next((k for k in range(j + 1, len(pk)) if pk[k][1] == "c"), None) if j else None
        if k is None:
            break
        out.append((pk[i][0], pk[j][0] - pk[i][0], pk[k][0] - pk[j][0]))
    return data, out


def batches(log):
    """The times the registration batches were committed, from the daemon's info log."""
    regs = []
    for line in open(log):
        m = re.match(r'time=(\S+) level=\S+ msg="mail registered"', line)
        if m:
            regs.append(datetime.datetime.fromisoformat(m[1].replace("Z", "+00:00")).timestamp())
    return [regs[0]] + [b for a, b in zip(regs, regs[1:]) if b - a > 0.003] if regs else []


def mean_ms(xs):
    return sum(xs) / len(xs) * 1000 if xs else 0.0


def main():
    pk = packets(sys.argv[1])
    data, per = acks(pk)
    first, last = data[0], data[-1]
    end = next(j for j in range(last + 1, len(pk)) if pk[j][1] == "s")
    span = pk[end][0] - pk[first][0]
    starts = [i for i in range(first, last) if pk[i][1] == "c" and pk[i][2] < 1000 and pk[i - 1][1] == "s"]
    gaps = [pk[i][0] - pk[i - 1][0] for i in starts]
    print("acks %d, %.2f s from the first data to the last reply (%.2f ms per ack)" % (len(data), span, span / len(data) * 1000))
    print("server %.2f ms, intake's turnaround %.2f ms (means per ack)" % (mean_ms([p[1] for p in per]), mean_ms([p[2] for p in per])))
    print("envelopes written after a reply %d, waits before them %.1f ms on average, %.2f s in all" % (len(starts), mean_ms(gaps), sum(gaps)))
    if len(sys.argv) > 2:
        marks = batches(sys.argv[2])
        groups = {}
        for t, srv, turn in per:
            i = bisect.bisect_left(marks, t)
            key = min(int((marks[i] - t) * 1000) // 10 * 10, 100) if i < len(marks) else None
            groups.setdefault(key, []).append((srv, turn))
        for key in sorted(k for k in groups if k is not None):
            g = groups[key]
            when = "%d–%d ms" % (key, key + 10) if key < 100 else "100 ms or more"
            print("%s before a batch's commit: %4d acks, server %.2f ms, turnaround %.2f ms" % (when, len(g), mean_ms([x[0] for x in g]), mean_ms([x[1] for x in g])))
        if None in groups:
            print("after the last batch: %d acks" % len(groups[None]))


if __name__ == "__main__":
    main()
