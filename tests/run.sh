#!/bin/sh
# Runs the test suites named as arguments (default: all), from the repo
# top, after `make` has built them. Prints each suite's result, then one
# summary line "N passed, N failed", and exits non-zero on any failure.
#   unit         cmocka unit tests (build/tests/test_*), then the layer check
#                (tests/check_layers.sh: web -> use cases, never back; see
#                docs/ARCHITECTURE.md) and its own test
#   unit-asan    the same under AddressSanitizer + UBSan
#   integration  node:test suites in tests/integration against real nginx
#   integration-asan  the HTTP-level suites against the ASan+UBSan build of
#                the FastCGI program (leaks or memory errors fail them)
#   fuzz         each libFuzzer target (tests/fuzz) over its saved corpus,
#                then for FUZZ_SECONDS (default 5) on a copy of it, under
#                ASan+UBSan; a crash input is kept in build/fuzz-artifacts/
#   unit-pg      the unit tests again, each store on its own database of a
#                throwaway PostgreSQL 15 cluster (tests/pg.sh)
#   integration-pg  the integration suites again with STRIPELINK_DATABASE_URL:
#                every app on its own database of that cluster (but for the
#                suites about SQLite's file: backup, disk full, install),
#                and the two-node test (two nodes on one database, one nginx)
#   valgrind     the unit tests under valgrind (not part of the default)
cd "$(dirname "$0")/.." || exit 1
suites=${*:-"unit unit-asan fuzz integration integration-asan unit-pg integration-pg"}
out=build/test-logs
mkdir -p "$out"
passed=0
failed=0
bad_suites=""

# Fast password hashing in tests only; production uses the default.
export STRIPELINK_PBKDF2_ITERATIONS=1000
export STRIPELINK_INSECURE_TEST_HASHING=1

# Stripe's own library writes fresh signature vectors for test_signature.
node tests/signature/gen_stripe_vectors.js build/signature-cases >"$out/signature-vectors.log" 2>&1 ||
	{ echo "signature vectors: generation FAILED (see $out/signature-vectors.log)"; failed=$((failed + 1)); }

# One throwaway PostgreSQL cluster for the -pg suites of this run, as the
# postgres user in a temporary directory on a free port; stopped at exit.
pg_dir=""
pg_start() {
	[ -n "$pg_dir" ] && return 0
	pg_dir=$(mktemp -d /tmp/stripelink-pg-XXXXXX)
	trap 'sh tests/pg.sh stop "$pg_dir"' EXIT
	port=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
	url=$(sh tests/pg.sh start "$pg_dir" "$port") || {
		echo "  FAIL  PostgreSQL did not start (see $pg_dir)"
		return 1
	}
	STRIPELINK_TEST_PG_SERVER=${url%/*}
	export STRIPELINK_TEST_PG_SERVER
}

count_cmocka() { # log -> adds to passed/failed
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

run_unit() { # dir [wrapper...]
	dir=$1
	shift
	for t in "$dir"/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		args=""
		[ -f "tests/unit/$name.args" ] && args=$(cat "tests/unit/$name.args")
		log="$out/${log_prefix:-}$(basename "$dir")-$name.log"
		# shellcheck disable=SC2086
		if "$@" "$t" $args >"$log" 2>&1; then
			echo "  ok    $name"
		else
			echo "  FAIL  $name (see $log)"
			tail -n 30 "$log" | sed 's/^/        /'
			bad_suites="$bad_suites $(basename "$dir")/$name"
			grep -q '^\[  FAILED  \]' "$log" || failed=$((failed + 1))
		fi
		count_cmocka "$log"
	done
}

run_script() { # name script -> one pass or one failure
	log="$out/$1.log"
	if sh "$2" >"$log" 2>&1; then
		echo "  ok    $1"
		passed=$((passed + 1))
	else
		echo "  FAIL  $1 (see $log)"
		tail -n 30 "$log" | sed 's/^/        /'
		bad_suites="$bad_suites $1"
		failed=$((failed + 1))
	fi
}

for suite in $suites; do
	echo "== $suite"
	case $suite in
	unit)
		run_unit build/tests
		run_script check_layers tests/check_layers.sh
		run_script check_layers_test tests/check_layers_test.sh
		;;
	unit-asan)
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_unit build/tests-asan ;;
	valgrind) run_unit build/tests valgrind -q --leak-check=full --error-exitcode=9 ;;
	unit-pg)
		if pg_start; then
			log_prefix=pg-
			run_unit build/tests
			log_prefix=
		else
			bad_suites="$bad_suites unit-pg"
			failed=$((failed + 1))
		fi
		;;
	fuzz)
		mkdir -p build/fuzz-artifacts
		for t in build/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			name=$(basename "$t")
			log="$out/fuzz-$name.log"
			work="build/fuzz-corpus/$name"
			mkdir -p "$work"
			cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
			opts="-timeout=10 -rss_limit_mb=2048 -artifact_prefix=build/fuzz-artifacts/$name-"
			# shellcheck disable=SC2086
			if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$t" $opts -runs=0 tests/fuzz/corpus/"$name" >"$log" 2>&1 &&
				UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$t" $opts -max_total_time="${FUZZ_SECONDS:-5}" "$work" >>"$log" 2>&1; then
				echo "  ok    $name ($(sed -n 's/.*#\([0-9]*\).*DONE.*/\1/p' "$log" | tail -n 1) runs)"
				passed=$((passed + 1))
			else
				echo "  FAIL  $name (see $log; the input is in build/fuzz-artifacts/)"
				grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 10 | sed 's/^/        /'
				bad_suites="$bad_suites fuzz/$name"
				failed=$((failed + 1))
			fi
		done
		;;
	integration | integration-asan | integration-pg)
		log="$out/$suite.log"
		if [ "$suite" = integration ]; then
			# the two-node test needs PostgreSQL: it runs in integration-pg
			files=$(cd tests && ls integration/*.test.js | grep -v -e '/twonode\.')
		elif [ "$suite" = integration-pg ]; then
			pg_start || { bad_suites="$bad_suites $suite"; failed=$((failed + 1)); continue; }
			# all but the suites about SQLite's file and the packaging
			files=$(cd tests && ls integration/*.test.js | grep -v -e '/backup\.' -e '/diskfull\.' -e '/install\.')
			export STRIPELINK_TEST_PG=1
		else
			# the request path: pages, wizard, webhooks, rotation, segments, money
			files="integration/foundation.test.js integration/wizard.test.js integration/webhook.test.js integration/rotation.test.js integration/segments.test.js integration/money.test.js"
			export STRIPELINK_TEST_BIN="$PWD/build/asan-bin/stripelink"
			export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
		fi
		# shellcheck disable=SC2086
		if (cd tests && node --test --test-concurrency=1 $files) >"$log" 2>&1; then
			echo "  ok    $suite"
		else
			echo "  FAIL  $suite (see $log)"
			grep -E '^not ok|# Subtest|Error|expected|actual' "$log" | head -n 60 | sed 's/^/        /'
			bad_suites="$bad_suites $suite"
		fi
		unset STRIPELINK_TEST_BIN STRIPELINK_TEST_PG
		p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log" | tail -n 1)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-1}))
		;;
	*) echo "unknown suite $suite"; failed=$((failed + 1)) ;;
	esac
done

[ -n "$bad_suites" ] && echo "failing:$bad_suites"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad_suites" ]
