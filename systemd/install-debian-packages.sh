#!/bin/sh
# Installs the Debian packages hoso needs on this host, for a purpose:
#   test  — what the test suite drives besides Python: gammu (an independent GSM modem client),
#           chromium (the browser tests), redis-server (Debian's Redis, the second server the
#           tests marked `redis` run on: `make test`, HOSO_REDIS_SERVER=/usr/bin/redis-server),
#           prometheus (its promtool checks docs/alerts.yml)
#   bench — what the benchmarks drive (wrk: the HTTP load generator)
# The tests start their own redis-server processes: installed for them, Debian's redis-server is
# not started as a service, now or at boot (a policy-rc.d refuses the start while apt installs
# it; systemd's unit is then disabled where systemd runs).
# Runs only as root on a Debian-like system; elsewhere it says what is missing and goes on.
set -eu
purpose=${1:-test}
case "$purpose" in
  test) packages="gammu chromium redis-server prometheus" ;;
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
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then  # no service is started by this install
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=yes
fi
trap '[ -z "$own_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
if [ -d /run/systemd/system ]; then  # services for the tests' use only: never started at boot
  for service in redis-server prometheus; do
    case " $missing " in
      *" $service "*) systemctl disable --now "$service.service" >/dev/null 2>&1 || true ;;
    esac
  done
fi
