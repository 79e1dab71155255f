#!/usr/bin/env bash
# PostgreSQL for the code-store tests and benchmarks, on 127.0.0.1 only.
#
#   scripts/postgres.sh install              Debian's postgresql package, when missing
#   scripts/postgres.sh start DIR PORT       a new cluster in DIR, listening on PORT;
#                                            prints the URL to connect to
#   scripts/postgres.sh stop|restart DIR     the cluster in DIR
#   scripts/postgres.sh resume DIR           start the stopped cluster in DIR again
#
# initdb refuses to run as root: as root, the cluster belongs to the
# `postgres` user the package creates. Nothing is written outside DIR (the
# Unix socket too lives there).
set -euo pipefail

bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "error: PostgreSQL is not installed (run: bash scripts/postgres.sh install)" >&2
    exit 3
  fi
  echo "$dir"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}
case "$cmd" in
  install)
    if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
    echo "== installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The package would create and start a cluster of its own on port 5432;
    # the tests start theirs, so none is made.
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/ebc-no-main.conf
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    ;;
  start)
    dir=${2:?usage: postgres.sh start DIR PORT}
    port=${3:?usage: postgres.sh start DIR PORT}
    bin=$(bin_dir)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" >"$dir/options"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  resume)
    dir=${2:?usage: postgres.sh resume DIR}
    bin=$(bin_dir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop|restart)
    dir=${2:?usage: postgres.sh $cmd DIR}
    bin=$(bin_dir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 "$cmd" >/dev/null
    ;;
  *)
    echo "usage: postgres.sh install | start DIR PORT | stop|restart|resume DIR" >&2
    exit 2
    ;;
esac
