#!/usr/bin/env bash
# Runs the README's test command (`make test`) on fresh clones of the committed tree, N times
# in a row, the way CI does on a new machine: each run clones HEAD of this repository into a
# new temporary folder (with ../shared linked beside it when this checkout has one), picks
# free ports of its own for Redis, Kafka, its controller and the durability cluster, and runs
# `make test` with CI=true. A run also fails if a process started from its clone is still
# running afterwards. Prints one line per run and a summary; keeps the clone and log of a
# failed run, removes those of green runs; exits 1 if any run failed.
#
#   scripts/fresh-check.sh [N]        (N defaults to 1; a run takes about 10 minutes)
#
# COURSE_CACHE_DIR, if set, is passed on (the Kafka jars are not fetched again); otherwise
# each clone fetches them with Maven. PYTHON picks the interpreter for the clone's .venv.
set -uo pipefail

n=${1:-1}
case "$n" in '' | *[!0-9]* | 0) echo "usage: $0 [N]  (N: runs, a positive integer)" >&2; exit 2 ;; esac

src=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel) || exit 2
head=$(git -C "$src" rev-parse --short HEAD) || exit 2
shared=""
[ -d "$src/../shared" ] && shared=$(cd "$src/../shared" && pwd)

free_ports() {  # N distinct TCP ports free on 127.0.0.1 now, below the ephemeral range
  python3 - "$1" <<'EOF'
import random, socket, sys
n, socks = int(sys.argv[1]), []
low, high = 23000, int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while len(socks) < n:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(low, high)))
        socks.append(s)
    except OSError:
        s.close()
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

failed=0
for i in $(seq 1 "$n"); do
  base=$(mktemp -d "${TMPDIR:-/tmp}/fresh-check.XXXXXX")
  clone="$base/repo"
  log="$base/make-test.log"
  git clone -q "$src" "$clone" && git -C "$clone" checkout -q "$head" || {
    echo "run $i/$n: FAIL (git clone of $src failed)"; failed=$((failed + 1)); continue; }
  [ -n "$shared" ] && ln -s "$shared" "$base/shared"
  read -r p_redis p_kafka p_ctl c0 c1 c2 c3 <<<"$(free_ports 7)"
  t0=$(date +%s)
  (
    cd "$clone" || exit 2
    export CI=true COURSE_REDIS_PORT="$p_redis" COURSE_KAFKA_PORT="$p_kafka" \
      COURSE_CONTROLLER_PORT="$p_ctl" COURSE_CLUSTER_PORTS="$c0,$c1,$c2,$c3"
    unset COURSE_STACK_DIR REDIS_URL KAFKA_BOOTSTRAP_SERVERS
    echo "fresh-check: $head in $clone, ports redis $p_redis kafka $p_kafka controller $p_ctl cluster $c0,$c1,$c2,$c3"
    make test
  ) >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - t0))
  # Nothing the run started may outlive it: brokers, cluster nodes, kernels.
  left=$(ps -eo pid=,args= | grep -F -- "$clone" | grep -v -e grep -e "fresh-check" || true)
  if [ -n "$left" ]; then
    { echo "fresh-check: processes still running after make test:"; echo "$left"; } >>"$log"
    for pid in $(awk '{print $1}' <<<"$left"); do kill "$pid" 2>/dev/null; done
    [ "$rc" = 0 ] && rc=99
  fi
  if [ "$rc" = 0 ]; then
    echo "run $i/$n: pass in ${took} s ($(grep -E '^[0-9]+ passed' "$log" | tr '\n' ';' | sed 's/;$//'))"
    rm -rf "$base"
  else
    why=$([ "$rc" = 99 ] && echo "processes left running" || echo "make test exit $rc")
    echo "run $i/$n: FAIL in ${took} s ($why); log kept: $log"
    failed=$((failed + 1))
  fi
done
echo "fresh-check $head: $((n - failed))/$n runs passed"
[ "$failed" = 0 ]
