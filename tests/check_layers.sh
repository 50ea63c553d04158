#!/bin/sh
# check_layers.sh - keeps the dependency edges of docs/ARCHITECTURE.md
# ("Dependencies"): the web layer calls the use cases, never the other way.
#
#   1. includes: outside the web layer, no src/ file includes a web-layer
#      header (app.h, http.h, handlers.h, page_*.h, ...);
#   2. symbols (from the built objects): outside the web layer, no object
#      uses a function or variable a web-layer object defines, so a
#      declaration written by hand does not slip past 1;
#   3. page files: the calls between page_*.c and page.c run one way (no
#      cycle, checked with tsort).
#
# Usage: sh tests/check_layers.sh [SRC_DIR [OBJ_DIR]]   (default src build/obj;
# without objects, 2 and 3 are skipped). Prints one line per violation and
# exits 1 when there is any, 0 otherwise. tests/run.sh runs it with the unit
# suite.
cd "$(dirname "$0")/.." || exit 2
src=${1:-src}
obj=${2:-build/obj}

# The web layer: the FastCGI loop, request parsing, routing, the pipeline,
# sessions as cookies, the pages and their templates; and main.c, the
# program's entry, which wires every layer together. Shell patterns on the
# file name.
web_files='app.c app.h fcgi.c fcgi.h handlers.h http.c http.h route.c route.h routes.c
	   page.c page_*.c page_*.h view.cc view.h web_auth.c web_auth.h main.c'
# What only the web layer may include.
web_headers='app.h fcgi.h handlers.h http.h route.h view.h web_auth.h page_*.h'
# Known edges, each with its reason ("file:header" or "file:object").
#   config.c checks STRIPELINK_TRUSTED_PROXIES with http.c's pure
#   address-list parser when the settings are read, in every process.
allowed='config.c:http.h config.o:http.o'

violations=0
say() {
	echo "check_layers: $*"
	violations=$((violations + 1))
}

# matches ITEM PATTERNS: true when ITEM matches one of the space-separated
# shell patterns (not expanded against the file system)
matches() {
	_item=$1
	_patterns=$2
	set -f
	for _pattern in $_patterns; do
		# shellcheck disable=SC2254
		case $_item in $_pattern) set +f; return 0 ;; esac
	done
	set +f
	return 1
}

is_web() {
	matches "$1" "$web_files" || matches "${1%.o}.c" "$web_files" ||
		matches "${1%.o}.cc" "$web_files"
}

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# ---- 1. includes ----
for f in "$src"/*.c "$src"/*.h "$src"/*.cc; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	is_web "$name" && continue
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" >"$tmp/includes"
	while read -r header; do
		matches "$header" "$web_headers" || continue
		matches "$name:$header" "$allowed" && continue
		say "$f includes $header: a use case or core module may not reach into the web layer" \
		    "(take what it needs as arguments: src/deps.h)"
	done <"$tmp/includes"
done

# ---- 2. and 3. symbols of the built objects ----
if ! ls "$obj"/*.o >/dev/null 2>&1; then
	echo "check_layers: no objects in $obj: symbol and page-cycle checks skipped"
else
	# "symbol object" for what each object defines and what it uses
	for o in "$obj"/*.o; do
		m=$(basename "$o")
		nm -g --defined-only "$o" | awk -v m="$m" 'NF == 3 {print $3, m}'
	done | sort -k1,1 >"$tmp/defs"
	for o in "$obj"/*.o; do
		m=$(basename "$o")
		nm -u "$o" | awk -v m="$m" '{print $NF, m}'
	done | sort -k1,1 >"$tmp/uses"
	# "user definer symbol" for every use of another object's symbol
	join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 {print $2, $3, $1}' | sort -u >"$tmp/edges"

	while read -r user definer symbol; do
		is_web "$user" && continue
		is_web "$definer" || continue
		matches "${user%.o}.c:$definer" "$allowed" && continue
		matches "$user:$definer" "$allowed" && continue
		say "${user%.o} calls $symbol of the web layer's ${definer%.o}"
	done <"$tmp/edges"

	awk '$1 ~ /^page(_.*)?\.o$/ && $2 ~ /^page(_.*)?\.o$/ {print $1, $2}' "$tmp/edges" |
		sort -u >"$tmp/pages"
	if ! tsort "$tmp/pages" >/dev/null 2>"$tmp/loop"; then
		say "page files call each other in a loop (move the shared piece to page.c or its own file):" \
		    "$(grep -v 'input contains a loop' "$tmp/loop" | sed 's/^tsort: //; s/\.o$//' | tr '\n' ' ')"
		awk '{print "    " $1 " -> " $2}' "$tmp/pages" | sed 's/\.o//g'
	fi
fi

if [ "$violations" -gt 0 ]; then
	echo "check_layers: $violations violation(s); see docs/ARCHITECTURE.md, Dependencies"
	exit 1
fi
echo "check_layers: ok"
