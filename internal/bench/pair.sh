#!/bin/bash
# pair.sh: paired runs of the shared harness's loader against several echo
# servers, alternating within each repetition, with the server's CPU time per
# message (all threads, from /proc/PID/task/*/sched). Used for the
# before/after figures in BENCHMARKS.md.
#
#   LOAD=/tmp/b/bin/load internal/bench/pair.sh CONNS WINDOW SIZE MSGS REPS SERVER...
#
# A SERVER is a command line that takes -addr and -framing len32, for example
# "bin/echo-server", "GOGC=400 bin/echo-server" or /tmp/b/bin/rawbuf (the
# harness's run.sh builds the loader and the reference servers into $OUT/bin).
# Everything listens on 127.0.0.1 only; every server is stopped by its PID.
set -euo pipefail
load=${LOAD:?set LOAD to the harness loader (run.sh builds it into \$OUT/bin/load)}
ctl=$(dirname "$load")/ctl
conns=$1 window=$2 size=$3 msgs=$4 reps=$5
shift 5
for _ in $(seq "$reps"); do
	for srv in "$@"; do
		port=$("$ctl" freeport)
		env $srv -addr 127.0.0.1:$port -framing len32 >/dev/null 2>&1 &
		pid=$!
		"$ctl" wait -addr 127.0.0.1:$port >/dev/null
		out=$("$load" -addr 127.0.0.1:$port -framing len32 -conns "$conns" -window "$window" -size "$size" -msgs "$msgs")
		cpu=$(awk '/se.sum_exec_runtime/ {s += $3} END {print s}' /proc/$pid/task/*/sched)
		kill -TERM $pid
		wait $pid 2>/dev/null || true
		python3 -c '
import json, sys
d = json.loads(sys.argv[1])
cpu_us = float(sys.argv[2]) * 1000.0 / (int(sys.argv[3]) * int(sys.argv[4]))
print("%-40s %10.0f msgs/s  p50 %6.0f us  errors %d  server CPU %.3f us/msg" % (sys.argv[5], d["msgs_per_s"], d["p50_us"], d["errors"], cpu_us))
' "$out" "$cpu" "$conns" "$msgs" "$srv"
	done
done
