#!/bin/sh
# Installs the Debian packages named as arguments that are not installed
# yet. Runs apt-get update once, only when something is missing.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "stripelink: missing Debian packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "stripelink: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2
