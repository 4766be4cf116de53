#!/usr/bin/env bash
# End to end over real brokers: `cectl send --count N --concurrency C` on one side and
# `cectl listen --from URL --count N -o json >/dev/null` on the other, timed from the start of
# send until listen has received the last event; printed next to the same done with each
# broker's own Go client (raw publish from C goroutines, raw subscribe), measured in the same
# run (scripts/bench/brokers -e2e). Target: at least 0.7x.
# Needs the brokers named by CECTL_TEST_NATS_URL, CECTL_TEST_MQTT_URL, CECTL_TEST_AMQP_URL
# (as .ci/run sets them); a transport without its variable is left out.
# Usage: scripts/bench/brokers_e2e.sh [events] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
c=${2:-16}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
go build -o "$tmp/brokersbench" ./scripts/bench/brokers

only=""
[ -n "${CECTL_TEST_NATS_URL:-}" ] && only="$only,nats,jetstream"
[ -n "${CECTL_TEST_MQTT_URL:-}" ] && only="$only,mqtt"
[ -n "${CECTL_TEST_AMQP_URL:-}" ] && only="$only,amqp"
if [ -z "$only" ]; then
  echo "no broker named: set CECTL_TEST_NATS_URL, CECTL_TEST_MQTT_URL or CECTL_TEST_AMQP_URL" >&2
  exit 2
fi
"$tmp/brokersbench" -e2e -n "$n" -c "$c" -only "${only#,}" \
  -nats "${CECTL_TEST_NATS_URL:-}" -mqtt "${CECTL_TEST_MQTT_URL:-}" -amqp "${CECTL_TEST_AMQP_URL:-}" \
  | tee "$tmp/raw.txt"
raw_rate() { awk -v t="$1" '$1 == t { print $2 }' "$tmp/raw.txt"; }

run=$(date +%s)
e2e() { # transport url
  local name=$1 url=$2 err=$tmp/$1.err
  "$tmp/cectl" listen --from "$url" --count "$n" --timeout 120s -o json >/dev/null 2>"$err" &
  local pid=$!
  for _ in $(seq 200); do grep -q '^Listening on' "$err" && break; sleep 0.05; done
  local t0 t1
  t0=$(date +%s%N)
  "$tmp/cectl" send --to "$url" --type com.example.bench --data '{"id":42,"name":"Ada"}' --count "$n" --concurrency "$c" >/dev/null
  local status=0
  wait "$pid" || status=$?
  t1=$(date +%s%N)
  local rate=$(( n * 1000000000 / (t1 - t0) )) raw
  raw=$(raw_rate "$name")
  if [ "$status" -ne 0 ]; then
    printf '%-10s listen did not get all %d events: %s\n' "$name" "$n" "$(tail -1 "$err")"
  elif [ -n "$raw" ]; then
    printf '%-10s cectl %8d events/s   raw client %8s   ratio %s\n' "$name" "$rate" "$raw" \
      "$(awk -v a="$rate" -v b="$raw" 'BEGIN { printf "%.2fx", a / b }')"
  else
    printf '%-10s cectl %8d events/s\n' "$name" "$rate"
  fi
}

echo
echo "end to end: cectl send --count $n --concurrency $c -> broker -> cectl listen --from --count $n -o json"
if [ -n "${CECTL_TEST_NATS_URL:-}" ]; then
  e2e nats "${CECTL_TEST_NATS_URL%/}/bench.e2e.$run"
  e2e jetstream "jetstream://${CECTL_TEST_NATS_URL#nats://}/BENCHE2E$run/bench.e2e.$run"
fi
if [ -n "${CECTL_TEST_MQTT_URL:-}" ]; then
  e2e mqtt "${CECTL_TEST_MQTT_URL%/}/bench/e2e/$run?qos=1"
fi
if [ -n "${CECTL_TEST_AMQP_URL:-}" ]; then
  e2e amqp "${CECTL_TEST_AMQP_URL%/}/bench-e2e-$run"
fi
