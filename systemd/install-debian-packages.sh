#!/bin/sh
# Installs the Debian packages hoso needs on this host, for a purpose:
#   test  — what the test suite drives besides Python (gammu: an independent GSM modem client)
#   bench — what the benchmarks drive (wrk: the HTTP load generator)
# Runs only as root on a Debian-like system; elsewhere it says what is missing and goes on.
set -eu
purpose=${1:-test}
case "$purpose" in
  test) packages="gammu chromium" ;;
  bench) packages="wrk" ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing Debian packages:$missing (install them as root)" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
