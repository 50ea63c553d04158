#!/bin/sh
# check_layers_test.sh - shows that tests/check_layers.sh fails when an edge
# runs the wrong way: on a copy of src/ with a use case including app.h,
# and on small objects where a use case calls the web layer and where two
# page files call each other. Also checks that it passes on a clean
# example. Prints "ok"/"FAIL" per case and exits 1 when any case went
# wrong. tests/run.sh runs it with the unit suite.
cd "$(dirname "$0")/.." || exit 2
check=tests/check_layers.sh
cc=${CC:-cc}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect WANT_RC WANT_TEXT WHAT SRC OBJ: runs the check on SRC and OBJ
expect() {
	want_rc=$1 want_text=$2 what=$3
	out=$(sh "$check" "$4" "$5" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && printf '%s\n' "$out" | grep -qF -- "$want_text"; then
		echo "  ok    $what"
	else
		echo "  FAIL  $what: exit $rc, wanted $want_rc and \"$want_text\" in:"
		printf '%s\n' "$out" | sed 's/^/        /'
		failed=$((failed + 1))
	fi
}

# object NAME SOURCE: compiles a one-line C source into $tmp/obj-*/NAME.o
object() {
	printf '%s\n' "$2" | $cc -x c -c -o "$1.o" - || exit 2
}

# ---- includes, on copies of the real sources ----
mkdir -p "$tmp/src" "$tmp/no-obj"
cp src/*.c src/*.h "$tmp/src/"
expect 0 "check_layers: ok" "the sources as they are pass" "$tmp/src" "$tmp/no-obj"
echo '#include "app.h"' >>"$tmp/src/connection.c"
expect 1 "connection.c includes app.h" "a use case including app.h fails" "$tmp/src" "$tmp/no-obj"
cp src/connection.c "$tmp/src/"
echo '#include "page_filter.h"' >>"$tmp/src/webhook.h"
expect 1 "webhook.h includes page_filter.h" "a use-case header including a page header fails" \
	"$tmp/src" "$tmp/no-obj"
cp src/webhook.h "$tmp/src/"
echo '#include "app.h"' >>"$tmp/src/config.c"
expect 1 "config.c includes app.h" "an allowed edge (config.c: http.h) allows nothing else" \
	"$tmp/src" "$tmp/no-obj"

# ---- symbols, on small objects ----
mkdir -p "$tmp/empty-src" "$tmp/obj-call" "$tmp/obj-loop" "$tmp/obj-oneway"
object "$tmp/obj-call/app" 'int app_status_for(int e) { return e; }'
object "$tmp/obj-call/connection" 'int app_status_for(int); int connection_x(void) { return app_status_for(1); }'
expect 1 "connection calls app_status_for of the web layer's app" \
	"a use case calling the web layer through its own declaration fails" "$tmp/empty-src" "$tmp/obj-call"

object "$tmp/obj-loop/page_stripe" 'void page_sync_jobs(void); void page_stripe_app_get(void) { page_sync_jobs(); }'
object "$tmp/obj-loop/page_sync" 'void page_stripe_app_get(void); void page_sync_jobs(void) { page_stripe_app_get(); }'
expect 1 "page files call each other in a loop" "two page files calling each other fail" \
	"$tmp/empty-src" "$tmp/obj-loop"

object "$tmp/obj-oneway/page_stripe" 'void page_sync_jobs(void); void page_stripe_app_get(void) { page_sync_jobs(); }'
object "$tmp/obj-oneway/page_sync" 'void page_load_connection(void); void page_sync_jobs(void) { page_load_connection(); }'
object "$tmp/obj-oneway/page" 'void page_load_connection(void) {}'
object "$tmp/obj-oneway/connection" 'void connection_x(void) {}'
object "$tmp/obj-oneway/app" 'void connection_x(void); void app_x(void) { connection_x(); }'
expect 0 "check_layers: ok" "edges that run one way, web to use case, pass" "$tmp/empty-src" "$tmp/obj-oneway"

[ "$failed" -eq 0 ]
