#!/bin/sh
# Installs hoso's systemd units, system user, directories and udev rules on this host. Run as root
# from the source tree, after the program itself is in /opt/hoso (python3.11 -m venv /opt/hoso &&
# /opt/hoso/bin/pip install <source>). It enables and starts nothing: it prints what to enable for
# this host's role. Running it again updates the units and keeps the udev rules you edited.
#
# ROOT=/some/dir sh systemd/install.sh copies into that tree instead (packaging, a dry look); the
# user, udev and systemd are then left alone.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${ROOT:-}
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "$0: run as root (or set ROOT=DIR to copy into DIR)" >&2
  exit 1
fi

units="hoso.target hoso-redis.service hoso-gateway.service hoso-worker@.service hoso-cron.service
hoso-modem@.service hoso-scanner@.service hoso-smpp@.service"
install -d -m 0755 "$root/etc/systemd/system" "$root/etc/sysusers.d" "$root/etc/tmpfiles.d" \
  "$root/etc/udev/rules.d" "$root/usr/local/share/doc/hoso"
for unit in $units; do
  install -m 0644 "$here/$unit" "$root/etc/systemd/system/$unit"
done
install -m 0644 "$here/hoso.sysusers" "$root/etc/sysusers.d/hoso.conf"
install -m 0644 "$here/hoso.tmpfiles" "$root/etc/tmpfiles.d/hoso.conf"
rules="$root/etc/udev/rules.d/99-hoso-modems.rules"
if [ -e "$rules" ] && ! cmp -s "$here/99-hoso-modems.rules" "$rules"; then
  # Yours holds your modems' lines: the new version goes next to it.
  install -m 0644 "$here/99-hoso-modems.rules" "$rules.new"
  echo "kept $rules (edited); the shipped version is $rules.new"
else
  install -m 0644 "$here/99-hoso-modems.rules" "$rules"
fi
for doc in "$here"/../docs/*.md; do
  [ -e "$doc" ] && install -m 0644 "$doc" "$root/usr/local/share/doc/hoso/"
done

if [ -z "$root" ]; then
  systemd-sysusers /etc/sysusers.d/hoso.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/hoso.conf
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    udevadm control --reload
  fi
fi
[ -x "$root/opt/hoso/bin/hoso" ] || echo "note: /opt/hoso/bin/hoso is not there yet (the units run it)"

cat <<'TEXT'
Installed. Put the configuration in /etc/hoso/hoso.toml (examples: config/examples/), check it
with `/opt/hoso/bin/hoso check-config /etc/hoso/hoso.toml`, then enable this host's units:

  one office, one box:
    systemctl enable --now hoso-redis hoso-gateway hoso-worker@1 hoso-worker@2 hoso-cron
    systemctl enable --now hoso-modem@<id> ...     # one per [[modems]] id
    systemctl enable --now hoso-smpp@<id> ...      # one per [[smpp]] id (carrier links)
  province, central host (Redis is Debian's redis-server with Sentinel, not hoso-redis):
    systemctl enable --now hoso-gateway hoso-worker@1 hoso-worker@2
    systemctl enable --now hoso-cron               # on ONE host of the installation
  province, modem host:
    systemctl enable --now hoso-modem@<id> ...
  counter station PC:
    systemctl enable --now hoso-scanner@<name>     # reads /etc/hoso/station-<name>.toml
  and on every host:
    systemctl enable hoso.target
TEXT
