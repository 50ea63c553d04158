#!/bin/sh
# make bench: every benchmark, figures printed as measured on this machine.
# make bench-rss: the worker's memory over 1,000,000 lifecycle events (minutes).
cd "$(dirname "$0")/.." || exit 1
set -e
if [ "$1" = "--rss" ]; then
	echo "== webhooks, lifecycle mix: memory over ${RSS_EVENTS:-1000000} events"
	node bench/lifecycle_bench.js --rss "${RSS_EVENTS:-1000000}"
	exit 0
fi
echo "== mapping engine (one core)"
build/bench/bench_mapping tests/fixtures/stripe/fixtures3.json 2
echo "== segment counts on 100,000 contacts"
build/bench/bench_segment 100000 5
echo "== webhooks through nginx, lifecycle mix (the headline)"
node bench/lifecycle_bench.js ${LIFECYCLE_EVENTS:-}
echo "== the same lifecycle mix on PostgreSQL 15 (local cluster, fsync on)"
STRIPELINK_TEST_PG=1 STRIPELINK_PG_FSYNC=on node bench/lifecycle_bench.js ${LIFECYCLE_EVENTS:-}
echo "== the same, two nodes on that database behind one nginx upstream"
STRIPELINK_TEST_PG=1 STRIPELINK_PG_FSYNC=on BENCH_NODES=2 node bench/lifecycle_bench.js ${LIFECYCLE_EVENTS:-}
echo "== webhooks through nginx, light mix"
node bench/webhook_bench.js "${BENCH_SECONDS:-10}"
echo "== webhooks through nginx, light mix, on PostgreSQL 15 (local cluster, fsync on)"
STRIPELINK_TEST_PG=1 STRIPELINK_PG_FSYNC=on node bench/webhook_bench.js "${BENCH_SECONDS:-10}"
echo "== the same, two nodes on that database behind one nginx upstream"
STRIPELINK_TEST_PG=1 STRIPELINK_PG_FSYNC=on BENCH_NODES=2 node bench/webhook_bench.js "${BENCH_SECONDS:-10}"
echo "== automations: webhook ingest with and without, outbound deliveries"
node bench/automations_bench.js "${BENCH_SECONDS:-5}"
if [ -f bench/sync_bench.js ]; then
	echo "== historical sync"
	node bench/sync_bench.js
fi
echo "== catch-up of missed events (test-mode rate limit)"
node bench/catchup_bench.js
echo "== backup and restore, 100,000 contacts"
node bench/backup_bench.js
