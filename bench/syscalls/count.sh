#!/usr/bin/env bash
# Counts the write syscalls Herald makes per delivery in a fan-out (40 events to N subscribers, 4
# publishes in flight), with perf's syscall tracepoints: how well a server coalesces its writes,
# a count rather than a time, so it holds on a busy machine. Needs `perf`; compiles the server first.
#   bench/syscalls/count.sh [--workers 2] [--redis redis://127.0.0.1:6379/0] [--subscribers 4000]
set -euo pipefail
cd "$(dirname "$0")/../.."
workers=""; redis=""; subscribers=4000
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers="--workers $2"; shift 2 ;;
    --redis) redis="$2"; shift 2 ;;
    --subscribers) subscribers="$2"; shift 2 ;;
    *) echo "unknown argument $1; see the comment at the top of $0" >&2; exit 2 ;;
  esac
done
command -v perf > /dev/null || { echo "perf is not installed (Debian: apt-get install -y linux-perf)" >&2; exit 1; }
[ "$(ulimit -n)" -gt $((subscribers + 500)) ] || { echo "ulimit -n is $(ulimit -n); raise it above $((subscribers + 500))" >&2; exit 1; }
npx tsc -b packages/protocol packages/server
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$dir"' EXIT
engine='{}'
[ -n "$redis" ] && engine="{\"type\":\"redis\",\"redisUrl\":\"$redis\",\"prefix\":\"syscalls-$$:\"}"
echo "{\"logLevel\":\"silent\",\"pingInterval\":\"10m\",\"idleTimeout\":\"10m\",\"engine\":$engine}" > "$dir/herald.json"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node packages/server/dist/cli.js serve $workers --port "$port" --host 127.0.0.1 --config "$dir/herald.json" > "$dir/server.log" 2>&1 &
server=$!
until grep -q "ready on" "$dir/server.log" 2> /dev/null; do kill -0 $server 2> /dev/null || { cat "$dir/server.log"; exit 1; }; sleep 0.2; done
pids=$(echo $server $(pgrep -P $server || true) | tr ' ' ',')
mkfifo "$dir/go"
node bench/syscalls/fan-out.mjs "$port" "$subscribers" < "$dir/go" 2> "$dir/load.log" &
load=$!
exec 3> "$dir/go"
until grep -q subscribed "$dir/load.log" 2> /dev/null; do kill -0 $load 2> /dev/null || { cat "$dir/load.log"; exit 1; }; sleep 0.2; done
perf stat -x, -e syscalls:sys_enter_write,syscalls:sys_enter_writev -p "$pids" -o "$dir/perf.csv" &
perf=$!
sleep 0.5
echo go >&3
wait $load
kill -INT $perf; wait $perf || true
deliveries=$(sed -n 's/^deliveries \([0-9]*\) of.*/\1/p' "$dir/load.log")
writes=$(awk -F, '$3 == "syscalls:sys_enter_write" {print $1}' "$dir/perf.csv")
writevs=$(awk -F, '$3 == "syscalls:sys_enter_writev" {print $1}' "$dir/perf.csv")
echo "deliveries $deliveries; write $writes; writev $writevs; syscalls per delivery $(node -e "console.log((($writes)+($writevs))/$deliveries)" | cut -c1-5)"
kill -TERM $server; wait $server || true
[ -n "$redis" ] && redis-cli -u "$redis" --scan --pattern "syscalls-$$:*" | xargs -r redis-cli -u "$redis" del > /dev/null
exit 0
