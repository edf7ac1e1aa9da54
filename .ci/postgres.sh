# Start a throwaway PostgreSQL server (Debian's package) on a free loopback port for the tests that
# need a shared history, and export AUDITOR_TEST_PG_URL. Sourced by .ci/run.
start_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
  fi
  local bin dir port
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  dir=/tmp/auditor-ci-pg
  if [ -f "$dir/data/postmaster.pid" ]; then   # a server left by an earlier run on this machine
    su postgres -c "$bin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  su postgres -c "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null || return 1
  su postgres -c "$bin/pg_ctl -D $dir/data -o '-p $port -k $dir -c listen_addresses=127.0.0.1' -l $dir/log -w start" \
    >/dev/null || { tail -n 20 "$dir/log"; return 1; }
  export AUDITOR_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL running for the tests at 127.0.0.1:$port"
}
