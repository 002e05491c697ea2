#!/bin/bash
# ackwire.sh: give it to intake-bench as -intake to record intake's acknowledgements on the
# wire (issue 12, BENCHMARKS.md "One flush per batch"). intake-bench runs it as
# "ackwire.sh serve -config FILE"; it starts tcpdump on the submission port that FILE names
# and execs intake. Stop tcpdump when the bench is done (pkill tcpdump), then read the
# capture with scripts/ackwire.py.
#
#   INTAKE        the intake binary (default: intake on PATH)
#   ACKWIRE_PCAP  where the capture goes (default /tmp/ackwire.pcap)
#   ACKWIRE_LOG   if set, the daemon logs at info level (its "mail registered" lines mark
#                 the registration batches) and its log is copied there
set -eu
cfg=$3
port=$(awk '/^\[mailbox.smtp\]/{s=1} s&&/^port/{print $3; exit}' "$cfg")
tcpdump -i lo -n -tt -w "${ACKWIRE_PCAP:-/tmp/ackwire.pcap}" "tcp port $port" 2>/dev/null &
sleep 0.3 # tcpdump's capture is open before the first connection
if [ -n "${ACKWIRE_LOG:-}" ]; then
	sed -i 's/^level = "warn"/level = "info"/' "$cfg"
	exec "${INTAKE:-intake}" "$@" 2> >(tee "$ACKWIRE_LOG" >&2)
fi
exec "${INTAKE:-intake}" "$@"
