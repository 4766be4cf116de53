#!/usr/bin/env bash
# End to end over real brokers: `cectl send --count N --concurrency C` on one side and
# `cectl listen --from URL --count N -o json` on the other, timed from the start of send until
# listen has printed the last event (its output goes to a line counter, not /dev/null, to
# know when; closing the subscription after that is not timed, as for the raw subscriber);
# printed next to the same done with each
# broker's own Go client (raw publish from C goroutines, raw subscribe), measured in the same
# run (scripts/bench/brokers -e2e). Target: at least 0.7x.
#
# Each transport is measured ROUNDS times, the raw client and cectl taking turns so that a
# change in the machine's load hits both alike, and the best of each side counts: a single
# run of 20,000 events lasts about a second, and on a shared machine its rate varies by half.
# The ratio of each round (cectl next to the raw run just before it) and their median are
# printed too.
# A round in which listen does not get every event fails the transport, whatever the others.
#
# Uses the brokers named by CECTL_TEST_NATS_URL, CECTL_TEST_MQTT_URL, CECTL_TEST_AMQP_URL
# (as .ci/run sets them); a transport without its variable is left out. Kafka runs against
# CECTL_TEST_KAFKA_URL, or else against kfake (the Kafka protocol, embedded in a process of
# its own by scripts/bench/brokers -serve-kafka), since no Kafka broker runs here.
# Usage: scripts/bench/brokers_e2e.sh [events] [concurrency] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
c=${2:-16}
rounds=${3:-3}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
go build -o "$tmp/brokersbench" ./scripts/bench/brokers

kafka_url=${CECTL_TEST_KAFKA_URL:-}
if [ -z "$kafka_url" ]; then
  "$tmp/brokersbench" -serve-kafka >"$tmp/kafka.url" &
  for _ in $(seq 200); do [ -s "$tmp/kafka.url" ] && break; sleep 0.05; done
  kafka_url=$(head -1 "$tmp/kafka.url")
fi

raw() { # transport: events/s of the broker's own client, end to end
  "$tmp/brokersbench" -e2e -n "$n" -c "$c" -only "$1" \
    -nats "${CECTL_TEST_NATS_URL:-}" -mqtt "${CECTL_TEST_MQTT_URL:-}" -amqp "${CECTL_TEST_AMQP_URL:-}" \
    -kafka "$kafka_url" \
    | awk -v t="$1" '$1 == t { printf "%d\n", $2 }'
}

cectl() { # name url: events/s of cectl send -> listen, or nothing when listen missed events
  local name=$1 url=$2 err=$tmp/$1.err
  # listen's events go to a line counter that notes when the last one came (-lines).
  "$tmp/cectl" listen --from "$url" --count "$n" --duration 120s -o json 2>"$err" \
    | "$tmp/brokersbench" -lines "$n" >"$tmp/$name.t1" &
  local pid=$!
  for _ in $(seq 200); do grep -qs '^Listening on' "$err" && break; sleep 0.05; done
  local t0 t1
  t0=$(date +%s%N)
  "$tmp/cectl" send --to "$url" --type com.example.bench --data '{"id":42,"name":"Ada"}' --count "$n" --concurrency "$c" >/dev/null
  local status=0
  wait "$pid" || status=$?
  t1=$(cat "$tmp/$name.t1")
  if [ "$status" -ne 0 ] || [ -z "$t1" ]; then
    tail -1 "$err" >"$tmp/$name.failed"
    return
  fi
  echo $(( n * 1000000000 / (t1 - t0) ))
}

run=$(date +%s)
e2e() { # transport url-pattern (ROUND stands for the round's unique suffix)
  local name=$1 pattern=$2 best_raw=0 best=0 rates="" raws="" ratios="" r rate
  rm -f "$tmp/$name.failed"
  for i in $(seq "$rounds"); do
    r=$(raw "$name")
    raws="$raws ${r:-?}"
    [ -n "$r" ] && [ "$r" -gt "$best_raw" ] && best_raw=$r
    rate=$(cectl "$name" "${pattern//ROUND/$run$i}")
    rates="$rates ${rate:-missed}"
    if [ "$name" = jetstream ]; then
      # listen made the stream; 20,000 events a round would pile up on the server.
      "$tmp/brokersbench" -nats "$CECTL_TEST_NATS_URL" -delete-stream "BENCHE2E$run$i" || true
    fi
    [ -n "$rate" ] && [ "$rate" -gt "$best" ] && best=$rate
    [ -n "$rate" ] && [ -n "$r" ] && ratios="$ratios $(awk -v a="$rate" -v b="$r" 'BEGIN { printf "%.2f", a / b }')"
  done
  if [ -e "$tmp/$name.failed" ]; then
    printf '%-10s listen did not get all %d events: %s\n' "$name" "$n" "$(cat "$tmp/$name.failed")"
  else
    printf '%-10s cectl %8d events/s   raw client %8d   ratio %s\n' "$name" "$best" "$best_raw" \
      "$(awk -v a="$best" -v b="$best_raw" 'BEGIN { printf "%.2fx", a / b }')"
  fi
  printf '%-10s rounds: cectl%s; raw%s\n' "" "$rates" "$raws"
  # Each round's cectl run next to the raw run just before it, as a check on the best-of
  # ratio, which one lucky raw round can pull down.
  [ -n "$ratios" ] && printf '%-10s round by round:%s; median %sx\n' "" "$ratios" \
    "$(echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }')"
  return 0
}

echo "end to end: cectl send --count $n --concurrency $c -> broker -> cectl listen --from --count $n -o json,"
echo "next to the broker's own client publishing from $c goroutines and subscribing; best of $rounds rounds each"
if [ -n "${CECTL_TEST_NATS_URL:-}" ]; then
  e2e nats "${CECTL_TEST_NATS_URL%/}/bench.e2e.ROUND"
  e2e jetstream "jetstream://${CECTL_TEST_NATS_URL#nats://}/BENCHE2EROUND/bench.e2e.ROUND"
fi
if [ -n "${CECTL_TEST_MQTT_URL:-}" ]; then
  e2e mqtt "${CECTL_TEST_MQTT_URL%/}/bench/e2e/ROUND?qos=1"
fi
if [ -n "${CECTL_TEST_AMQP_URL:-}" ]; then
  e2e amqp "${CECTL_TEST_AMQP_URL%/}/bench-e2e-ROUND"
fi
# A fresh topic each round, read from its start: listen subscribes before send creates it.
e2e kafka "${kafka_url%/}/bench-e2e-ROUND?start=oldest"
