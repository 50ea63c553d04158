#!/bin/sh
# backup_bench.sh - size and time of `stripelink backup` for 100,000
# contacts (each with two tags, a custom value and an order), and of the
# restore. Usage: sh bench/backup_bench.sh [contacts]
set -e
cd "$(dirname "$0")/.."
n=${1:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export STRIPELINK_DATA="$work/data"
./cgi-bin/stripelink migrate
sqlite3 "$STRIPELINK_DATA/stripelink.db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < $n)
INSERT INTO contacts (email, email_key, first_name, last_name, phone, created_at, updated_at)
  SELECT 'person' || x || '@example.com', 'person' || x || '@example.com', 'First' || x, 'Last' || x,
         '+1555' || x, 1700000000 + x, 1700000000 + x FROM i;
INSERT INTO tags (name) VALUES ('stripe-integration'), ('stripe-integration-charge-succeeded');
INSERT INTO contact_tags (contact_id, tag_id) SELECT id, 1 FROM contacts;
INSERT INTO contact_tags (contact_id, tag_id) SELECT id, 2 FROM contacts;
INSERT INTO orders (stripe_id, connection_id, contact_id, amount, currency, status, updated_at)
  SELECT 'ch_bench' || id, 1, id, 1000 + id % 9000, 'usd', 'paid', 1700000000 FROM contacts;
COMMIT;
SQL
db_bytes=$(stat -c %s "$STRIPELINK_DATA/stripelink.db")
start=$(date +%s.%N)
./cgi-bin/stripelink backup "$work/bench.slbackup" >/dev/null
end=$(date +%s.%N)
size=$(stat -c %s "$work/bench.slbackup")
export STRIPELINK_DATA="$work/restored"
rstart=$(date +%s.%N)
./cgi-bin/stripelink restore "$work/bench.slbackup" >/dev/null
rend=$(date +%s.%N)
awk -v n="$n" -v db="$db_bytes" -v size="$size" -v s="$start" -v e="$end" -v rs="$rstart" -v re="$rend" 'BEGIN {
	printf "backup of %d contacts (2 tags and an order each): database %.1f MiB, backup file %.1f MiB, backup %.2f s, restore %.2f s (with integrity check)\n",
		n, db / 1048576, size / 1048576, e - s, re - rs }'
