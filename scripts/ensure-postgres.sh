#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for the `postgres`
# user, as the config-store tests expect (they create and drop their own databases). On a machine
# without one, installs Debian's package and starts it. Set ASBRU_TEST_PG_HOST / _PORT / _USER to
# use another server instead.
set -euo pipefail
host="${ASBRU_TEST_PG_HOST:-127.0.0.1}"
port="${ASBRU_TEST_PG_PORT:-5432}"
user="${ASBRU_TEST_PG_USER:-postgres}"

ready() { psql -h "$host" -p "$port" -U "$user" -d postgres -Atc 'select 1' >/dev/null 2>&1; }

if command -v psql >/dev/null 2>&1 && ready; then
  exit 0
fi
if [ "$host" != "127.0.0.1" ] && [ "$host" != "localhost" ]; then
  echo "PostgreSQL at $host:$port does not answer for $user" >&2
  exit 1
fi

echo "== installing and starting PostgreSQL for the config-store tests"
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
# Local test server only: trust connections from this machine.
if ! grep -q "asbru-tests" "$hba"; then
  { echo "# asbru-tests: trust local connections"; echo "host all all 127.0.0.1/32 trust"; echo "host all all ::1/128 trust"; cat "$hba"; } > "$hba.new"
  mv "$hba.new" "$hba"
fi
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload
for _ in $(seq 1 30); do
  ready && exit 0
  sleep 1
done
echo "PostgreSQL did not start" >&2
exit 1
