#!/usr/bin/env bash
# Benchmarks publishing through cectl's broker targets (client.Target, as send uses them) next to
# each broker's own Go client publishing raw messages of the same size with the same delivery
# guarantee, in the same run; prints events/s and ratios (target: at least 0.7x).
# Brokers named by CECTL_TEST_NATS_URL, CECTL_TEST_MQTT_URL, CECTL_TEST_KAFKA_URL are used as they
# are, the others run embedded; AMQP runs only with CECTL_TEST_AMQP_URL.
# Usage: scripts/bench/brokers.sh [events] [concurrency] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/brokersbench" ./scripts/bench/brokers
"$tmp/brokersbench" -n "${1:-20000}" -c "${2:-16}" -rounds "${3:-2}" \
  -nats "${CECTL_TEST_NATS_URL:-}" -mqtt "${CECTL_TEST_MQTT_URL:-}" \
  -kafka "${CECTL_TEST_KAFKA_URL:-}" -amqp "${CECTL_TEST_AMQP_URL:-}"
