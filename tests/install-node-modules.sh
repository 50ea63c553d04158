#!/bin/sh
# Installs the tests' npm packages (tests/package-lock.json) when missing
# or out of date.
cd "$(dirname "$0")" || exit 1
# The machine image ships Node 20 with npm; Debian's own nodejs is the
# fallback on a machine without it.
command -v node >/dev/null 2>&1 || sh ./install-debs.sh nodejs npm || exit 1
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
