#!/bin/sh
# A throwaway PostgreSQL 15 cluster for the tests (Debian's postgresql-15).
#   sh tests/pg.sh start DIR PORT   initdb in DIR (created, usable by the
#                                   postgres user), start on 127.0.0.1:PORT
#                                   with its socket in DIR; prints the URL of
#                                   the database "stripelink"
#   sh tests/pg.sh stop DIR         stop it and remove DIR
# STRIPELINK_PG_OPTS adds server settings (say "-c shared_preload_libraries=
# pg_stat_statements" to count a benchmark's statements).
# As root the server runs as the unprivileged postgres user (it refuses
# root); as another user, as that user.
set -e
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=$1
dir=$2
as() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
	port=$3
	mkdir -p "$dir"
	chmod 755 "$dir"
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
	# no fsync for a cluster thrown away after the run, unless
	# STRIPELINK_PG_FSYNC=on (the benchmarks: durability as in production)
	as "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1
	# pg_ctl -w inherits open descriptors: close everything past stderr
	as "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=${STRIPELINK_PG_FSYNC:-off} -c full_page_writes=${STRIPELINK_PG_FSYNC:-off} -c max_connections=300 -c shared_buffers=64MB ${STRIPELINK_PG_OPTS:-}" \
		start >/dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	as "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres stripelink
	# the benchmarks' cluster (fsync on) is warmed as a running server is:
	# a new cluster creates and zero-fills each 16 MB WAL segment the first
	# time it needs one (a stall of ~100 ms for the committing transaction);
	# a server that has run recycles them. Write ~300 MB of WAL once, then
	# checkpoint, so the segments are there to recycle.
	if [ "${STRIPELINK_PG_FSYNC:-off}" = on ]; then
		as "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
			-c "CREATE TABLE warm AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 1500000) g" \
			-c "DROP TABLE warm" -c "CHECKPOINT" >/dev/null
	fi
	echo "postgresql://postgres@127.0.0.1:$port/stripelink"
	;;
stop)
	[ -d "$dir/data" ] && as "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
	;;
esac
