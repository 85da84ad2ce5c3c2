# rt-e2e-lib.sh - a private Request Tracker 5 for run-rt-e2e.sh and
# bench-rt.sh (sourced, never run).  Needs root.
#
# e2e_prepare PKG...  install RT 5 and PKGs if missing; build the module
#                     unless PROMPTLY_SO names one
# e2e_start_rt        a fresh RT database in a scratch folder, rt-server on
#                     127.0.0.1:$E2E_PORT using it, a REST 2 session
#                     E2E_DB=sqlite (default), pg or mysql: the database
#                     is an SQLite file, or a PostgreSQL / MariaDB server
#                     of the test's own (data in the scratch folder, on
#                     127.0.0.1:$E2E_DB_PORT [E2E_PORT + 5]), stopped at exit
# start_daemon        rt-promptly on that RT (pid in DAEMON_PID)
#
# The fresh database (rt-setup-database-5 --action init into a scratch
# SQLite file, about 2 s, plus promptly-initialdata) makes every run start
# from the same state.  rt-server, rt-setup-database and rt-promptly find
# it through PROMPTLY_RT_DB, which the site config snippet of
# rt-promptly-setup honours; RT's own database is never touched.

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=$SRCDIR/tests/e2e
RT_HOST_DIR=$SRCDIR/module/hosts/rt
E2E_PORT=${E2E_PORT:-8093}
E2E_DB=${E2E_DB:-sqlite}
E2E_DB_PORT=${E2E_DB_PORT:-$((E2E_PORT + 5))}
case $E2E_DB in
  sqlite) E2E_DB_PACKAGES="" ;;
  pg)     E2E_DB_PACKAGES="postgresql libdbd-pg-perl" ;;
  mysql)  E2E_DB_PACKAGES="mariadb-server mariadb-client libdbd-mysql-perl" ;;
  *) printf '%s: error: E2E_DB=%s: want sqlite, pg or mysql\n' "$(basename "$0")" "$E2E_DB" >&2
     exit 2 ;;
esac
ROOT_PASS=${RT_ROOT_PASS:-rtroot-pass}
T_START=$SECONDS
RT_VERSION=unknown

# shellcheck source=../../module/hosts/rt/rt-promptly-setup
. "$RT_HOST_DIR/rt-promptly-setup"

note() { printf '  .. %s\n' "$*"; }
die()  { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

[[ $EUID -eq 0 ]] || die "run as root (installs packages, runs RT as www-data)"

e2e_prepare() {
  note "installing what is missing (RT 5, $*)"
  rt_install
  # shellcheck disable=SC2086
  apt_install jq curl sqlite3 gcc libc6-dev bc $E2E_DB_PACKAGES "$@" \
    ${E2E_PROFILE:+libdevel-nytprof-perl}
  # Which RT this run meets: a failure in the log names it.
  RT_VERSION=$(dpkg-query -W -f='${Version}' request-tracker5 2>/dev/null || echo unknown)
  echo "== e2e: request-tracker5 $RT_VERSION, $(basename "$0")"
  PROMPTLY_BUILDDIR=${PROMPTLY_BUILDDIR:-$SRCDIR/build-e2e}
  if [[ -z "${PROMPTLY_SO:-}" ]]; then
    PROMPTLY_SO=$PROMPTLY_BUILDDIR/module/.libs/promptly.so
    note "building the module in $PROMPTLY_BUILDDIR"
    apt_install build-essential autoconf automake libtool pkg-config \
      libuv1-dev liblua5.4-dev libglib2.0-dev libical-dev libjansson-dev \
      libcmocka-dev
    if [[ ! -x "$SRCDIR/configure" ]]; then
      (cd "$SRCDIR" && autoreconf -fi >/dev/null)
    fi
    mkdir -p "$PROMPTLY_BUILDDIR"
    if [[ ! -f "$PROMPTLY_BUILDDIR/Makefile" ]]; then
      (cd "$PROMPTLY_BUILDDIR" && "$SRCDIR/configure" >/dev/null)
    fi
    make -C "$PROMPTLY_BUILDDIR" -j2 module/promptly.la >/dev/null ||
      die "the module does not build (make -C $PROMPTLY_BUILDDIR module/promptly.la)"
  fi
  [[ -r "$PROMPTLY_SO" ]] || die "no module at $PROMPTLY_SO"
  PROMPTLY_SO=$(readlink -f "$PROMPTLY_SO")
  # The CLI of the same build (libtool's .libs/promptly.so -> promptly):
  # the SLA report page and the e2e's own report runs use it.
  CLI=$(dirname "$(dirname "$(dirname "$PROMPTLY_SO")")")/promptly
  export PROMPTLY_CLI=$CLI PROMPTLY_MODULE=$PROMPTLY_SO
  ART=${E2E_ARTIFACTS:-${PROMPTLY_BUILDDIR:-$SRCDIR/build-e2e}/e2e-artifacts}
  mkdir -p "$ART"
  ART=$(readlink -f "$ART")
}

DAEMON_PID=
E2E_FAILED=0   # the caller sets it non-zero to keep the scratch folder
e2e_cleanup() {
  local rc=$?
  # The caller's last word (e.g. the summary line), even after an abort.
  if declare -F e2e_on_exit >/dev/null; then e2e_on_exit "$rc" || rc=1; fi
  [[ -n "$DAEMON_PID" ]] && kill -TERM "$DAEMON_PID" 2>/dev/null || true
  if [[ -n "${WORK:-}" ]]; then
    # Only our own rt-server: its pid file is in the scratch folder.
    rt_stop >/dev/null 2>&1 || true
    e2e_stop_db >/dev/null 2>&1 || true
    cp -f "$WORK"/db-server.log "$ART/db-server.$E2E_DB.log" 2>/dev/null || true
    cp -f "$DLOG" "$WORK/rt-server.$E2E_PORT.log" "$ART/" 2>/dev/null || true
    if [[ "${E2E_KEEP:-0}" == 1 || $E2E_FAILED -gt 0 || $rc -ne 0 ]]; then
      echo "scratch folder kept: $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit $rc
}

e2e_start_rt() {
  export RT_PORT=$E2E_PORT RT_HOST=127.0.0.1
  rt_http_up && die "port $E2E_PORT is busy (another RT?); set E2E_PORT"
  WORK=$(mktemp -d "${E2E_TMPDIR:-/tmp}/promptly-e2e.XXXXXX")
  export PROMPTLY_RUN_DIR=$WORK
  chgrp www-data "$WORK"; chmod 2771 "$WORK"
  DB=$WORK/rt.db
  DLOG=$WORK/rt-promptly.log
  trap e2e_cleanup EXIT
  # A timeout's TERM too: the servers of the run must not outlive it.
  trap 'exit 143' TERM INT
  [[ $E2E_DB == sqlite ]] || e2e_start_db
  RULES=$WORK/rules.d
  STATE=$WORK/state
  DLOG=$WORK/rt-promptly.log
  COOKIE=$WORK/cookie
  B=http://127.0.0.1:$E2E_PORT
  mkdir -p "$RULES" "$STATE"
  chown www-data:www-data "$STATE"
  chmod 2775 "$RULES"
  export RT_DB=$DB RT_PORT=$E2E_PORT RT_HOST=127.0.0.1
  export PROMPTLY_RUN_DIR=$WORK PROMPTLY_STATE_DIR=$STATE PROMPTLY_RULES_DIR=$RULES

  note "fresh RT database $DB ($E2E_DB)"
  # RT's snippets in a private folder: the system's, then ours.  Another
  # run side by side (another checkout) writes its own 99-promptly.pm.
  export RT_SITE_CONFIG_DIR=$WORK/site.d
  install -d -g www-data -m 2750 "$RT_SITE_CONFIG_DIR"
  local f
  for f in "$RT_ETC"/RT_SiteConfig.d/*.pm; do
    [[ "$(basename "$f")" == 99-promptly.pm ]] ||
      install -g www-data -m 0640 "$f" "$RT_SITE_CONFIG_DIR/"
  done
  write_site_config
  # The plugin and Mason's compiled cache in private folders too: runs
  # side by side (other checkouts) install their own plugin files, and
  # would otherwise overwrite each other's in RT's shared local folder.
  export RT_LOCAL_PLUGINS=$WORK/plugins RT_MASON_DATA=$WORK/mason_data
  install -d -m 0755 "$RT_LOCAL_PLUGINS"
  install -d -o www-data -g www-data -m 0750 "$RT_MASON_DATA"
  cat >"$RT_SITE_CONFIG_DIR/98-e2e-paths.pm" <<EOF_PATHS
\$RT::LocalPluginPath = '$RT_LOCAL_PLUGINS';
\$RT::MasonDataDir = '$RT_MASON_DATA';
1;
EOF_PATHS
  chgrp www-data "$RT_SITE_CONFIG_DIR/98-e2e-paths.pm"
  chmod 0640 "$RT_SITE_CONFIG_DIR/98-e2e-paths.pm"
  install_ui 2>>"$WORK/setup-db.log"
  local init=(--action init --skip-create)
  case $E2E_DB in
    pg)    init=(--action init --dba postgres --dba-password unused) ;;
    mysql) init=(--action init --dba root --dba-password "$DBA_PASS") ;;
  esac
  PROMPTLY_RT_DB=$DB "$RT_SETUP_DB" "${init[@]}" </dev/null \
    >"$WORK/setup-db.log" 2>&1 ||
    { tail -20 "$WORK/setup-db.log"; die "rt-setup-database init failed on $E2E_DB (RT refused to create its database; see $WORK/setup-db.log)"; }
  [[ $E2E_DB != sqlite ]] || { chown root:www-data "$DB"; chmod 0660 "$DB"; }
  apply_initialdata 2>>"$WORK/setup-db.log"
  use_lifecycle General 2>>"$WORK/setup-db.log"
  # root's password for the REST and browser logins.
  PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" -e '
    use RT; RT::LoadConfig(); RT::Init();
    my $u = RT::User->new(RT->SystemUser); $u->Load("root");
    my ($ok, $m) = $u->SetPassword($ARGV[0]); die "$m\n" unless $ok;' \
    "$ROOT_PASS" 2>>"$WORK/setup-db.log"
  rt_start 2>>"$WORK/setup-db.log"
  note "RT up on $B after $((SECONDS - T_START)) s"
  # A session cookie: basic auth costs a bcrypt (~250 ms) per request.
  curl -s -o /dev/null -c "$COOKIE" --data-urlencode "user=root" \
    --data-urlencode "pass=$ROOT_PASS" "$B/NoAuth/Login.html"
  PROMPTLY_UID=$(sql "SELECT id FROM Users WHERE Name = 'promptly'")
}

# Let requestors reply by mail (a fresh RT 5 does not; NOTES gotcha 7).
# Only in the scratch database of a test run.
e2e_let_requestors_reply() {
  PROMPTLY_RT_DB=$DB perl -I"$RT_LIB" -e '
    use RT; RT::LoadConfig(); RT::Init();
    my $g = RT::Group->new(RT->SystemUser);
    $g->LoadRoleGroup(Object => RT->System, Name => "Requestor");
    for my $r (qw(ReplyToTicket ShowTicket)) {
      $g->PrincipalObj->GrantRight(Right => $r, Object => RT->System);
    }' 2>>"$WORK/setup-db.log"
}

# A reply by mail from FROM to ticket N, through RT's own mail gateway.
mail_reply() {  # mail_reply TICKET FROM TEXT
  printf 'From: %s\nTo: rt@localhost\nSubject: [rt5.local #%s] Re: ticket\nMessage-ID: <e2e-%s-%s@example.com>\n\n%s\n' \
    "$2" "$1" "$1" "$RANDOM$RANDOM" "$3" |
    rt-mailgate --queue General --action correspond --url "$B/" >>"$WORK/mailgate.log" 2>&1
}

# E2E_PROFILE=FILE: rt-promptly runs under Devel::NYTProf (the package
# libdevel-nytprof-perl, installed by e2e_prepare then), timing the CPU
# the process uses (clock 2, CLOCK_PROCESS_CPUTIME_ID; E2E_PROFILE_CLOCK=0
# for wall time, which shows the waits for SQLite's lock); stop_daemon
# copies its profile to FILE.N (one per daemon start); read it with
# nytprofhtml -f FILE.N.
PROFILE_N=0
start_daemon() {
  local prof=(perl)
  if [[ -n "${E2E_PROFILE:-}" ]]; then
    PROFILE_N=$((PROFILE_N + 1))
    rm -f "$WORK/nytprof.out"
    prof=(env "NYTPROF=file=$WORK/nytprof.out:clock=${E2E_PROFILE_CLOCK:-2}" perl -d:NYTProf)
  fi
  PROMPTLY_RT_DB=$DB PROMPTLY_RT_PORT=$E2E_PORT \
    setsid setpriv --reuid=www-data --regid=www-data --init-groups \
    "${prof[@]}" "$RT_HOST_DIR/rt-promptly" --module "$PROMPTLY_SO" --rules "$RULES" \
    --state-dir "$STATE" --poll-ms "${E2E_POLL_MS:-100}" \
    --busy-ms "${E2E_BUSY_MS:-1000}" --log-level "${E2E_LOG_LEVEL:-debug}" "$@" \
    >>"$DLOG" 2>&1 </dev/null &
  DAEMON_PID=$!
}

stop_daemon() {  # stop_daemon [SIGNAL]
  [[ -n "$DAEMON_PID" ]] || return 0
  kill "-${1:-TERM}" "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=
  if [[ -n "${E2E_PROFILE:-}" && -s "$WORK/nytprof.out" ]]; then
    cp "$WORK/nytprof.out" "$E2E_PROFILE.$PROFILE_N" &&
      note "profile of rt-promptly: $E2E_PROFILE.$PROFILE_N"
  fi
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds;
# WAITED is the time it took, in seconds.
wait_for() {
  local limit=$1; shift
  local t0 now
  t0=$(date +%s.%N)
  while :; do
    if "$@"; then
      WAITED=$(printf '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)")
      return 0
    fi
    now=$(date +%s.%N)
    [[ $(echo "$now - $t0 > $limit" | bc) == 1 ]] && return 1
    sleep 0.1
  done
}

# The count of "replayed" lines in the daemon log: one per start.
replays() { grep -c 'replayed .* events' "$DLOG" 2>/dev/null || true; }
replays_at_least() { [[ $(replays) -ge $1 ]]; }

# --- REST 2 and database helpers -----------------------------------------

# REST 2 with the session cookie and the Referer of RT's own web base URL,
# as RT's web UI sends them.  Since request-tracker5 5.0.3+dfsg-3~deb12u7
# (CVE-2026-108277) RT refuses a cookie-authenticated POST/PUT without a
# matching Referer or Origin ("403 Cross-site request forgery protection").
# Cookie + Referer rather than an auth token or basic auth: RT checks
# those with bcrypt, about 250 ms per request, which the e2e and
# bench-rt (hundreds of requests) would pay on every call.
# A request RT does not answer with 2xx stops the caller: the method,
# path, HTTP status and RT's answer go to stderr and rest returns 1.
rest() {  # rest METHOD PATH [JSON]
  local m=$1 p=$2 out code
  out=$(mktemp "$WORK/rest.XXXXXX")
  local args=(-s -o "$out" -w '%{http_code}' -b "$COOKIE" -X "$m"
              -H "Referer: $B/")
  [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl "${args[@]}" "$B/REST/2.0$p") || code="curl exit $?"
  if [[ $code != 2?? ]]; then
    printf 'REST 2 %s %s: HTTP %s from RT %s: %s\n' "$m" "$p" "$code" \
      "$RT_VERSION" "$(head -c 400 "$out")" >&2
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}
# rest_id METHOD PATH JSON -> the id of what RT made; no id stops the caller
# with the request and RT's answer.
rest_id() {
  local ans id
  ans=$(rest "$@") || return 1
  id=$(jq -r '.id // empty' <<<"$ans" 2>/dev/null || true)
  if [[ ! $id =~ ^[0-9]+$ ]]; then
    printf 'REST 2 %s %s: RT %s answered without an id: %s\n' "$1" "$2" \
      "$RT_VERSION" "$(head -c 400 <<<"$ans")" >&2
    return 1
  fi
  echo "$id"
}
create_ticket() {  # create_ticket SUBJECT [CONTENT] -> ticket id
  local body
  body=$(jq -cn --arg s "$1" --arg c "${2:-created by $(basename "$0")}" \
    '{Queue:"General", Subject:$s, Requestor:"customer@example.com", Content:$c}')
  rest_id POST /ticket "$body"
}
priority_of() { rest GET "/ticket/$1" | jq -r '.Priority'; }
priority_is() { [[ "$(priority_of "$1")" == "$2" ]]; }
cf_of() {  # cf_of TICKET NAME
  rest GET "/ticket/$1" |
    jq -r --arg n "$2" '.CustomFields[] | select(.name == $n) | .values[0] // ""'
}
# One SQL statement on RT's database; rows as "a|b|c" lines.
sql() {
  case $E2E_DB in
    pg) PGPASSWORD=$PROMPTLY_RT_DBPASS psql -X -q -h 127.0.0.1 -p "$E2E_DB_PORT" \
          -U rt_user -d "$DB" -At -F '|' -v ON_ERROR_STOP=1 -c "$1" ;;
    mysql) mariadb -h 127.0.0.1 -P "$E2E_DB_PORT" -u rt_user -p"$PROMPTLY_RT_DBPASS" \
             -N -B --init-command="SET SESSION sql_mode = CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')" \
             "$DB" -e "$1" | tr '\t' '|' ;;
    *) sqlite3 -cmd '.timeout 5000' "$DB" "$@" ;;
  esac
}
max_txn() { sql 'SELECT MAX(id) FROM Transactions'; }
cursor() { sed -n 's/^txn //p' "$STATE/cursor" 2>/dev/null || echo 0; }
cursor_at_least() { [[ "$(cursor)" -ge "$1" ]]; }
# A mark for rewrites_since: "TXN:OCFV", the highest ids of Transactions
# and ObjectCustomFieldValues now.
write_mark() {
  echo "$(max_txn):$(sql "SELECT COALESCE(MAX(id), 0) FROM ObjectCustomFieldValues")"
}
# Work promptly repeated after the mark $1 (write_mark): a field written
# with the value it had, or set back to the value it had one write before
# (A -> B -> A).  One "ticket|field|old|new" line per such write.  What a
# restart may legitimately add (a threshold that came due while the
# daemon was down, a ticket created meanwhile) is not listed.  The SLA
# fields are written without a transaction (a new ObjectCustomFieldValues
# row each, by promptly, the old one disabled): their rows after the
# mark's OCFV id are compared with the rows before them; other writes by
# their transactions after the mark's TXN id.  (A mark of a TXN id alone:
# the rows from the second after that transaction.)
rewrites_since() {
  local txn=${1%%:*} after
  if [[ $1 == *:* ]]; then after="id > ${1#*:}"
  else after="made > (SELECT Created FROM Transactions WHERE id = $txn)"; fi
  sql "WITH v AS (
         SELECT o.id, o.ObjectId AS tk, cf.Name AS f, COALESCE(o.Content, '') AS new,
                o.Creator AS who, o.Created AS made
           FROM ObjectCustomFieldValues o JOIN CustomFields cf ON cf.id = o.CustomField
          WHERE o.ObjectType = 'RT::Ticket'),
       s AS (SELECT *, LAG(new) OVER (PARTITION BY tk, f ORDER BY id) AS old,
                    LAG(new, 2) OVER (PARTITION BY tk, f ORDER BY id) AS prev_old
               FROM v)
       SELECT tk, f, old, new FROM s
        WHERE who = $PROMPTLY_UID AND $after
          AND (new = old OR (prev_old IS NOT NULL AND new = prev_old))
        ORDER BY id"
  sql "WITH w AS (
         SELECT t.id, t.ObjectId AS tk, t.Type || ':' || t.Field AS f,
                COALESCE(ov.Content, t.OldValue, '') AS old,
                COALESCE(nv.Content, t.NewValue, '') AS new
           FROM Transactions t
           LEFT JOIN ObjectCustomFieldValues ov
                  ON t.Type = 'CustomField' AND ov.id = t.OldReference
           LEFT JOIN ObjectCustomFieldValues nv
                  ON t.Type = 'CustomField' AND nv.id = t.NewReference
          WHERE t.ObjectType = 'RT::Ticket' AND t.Creator = $PROMPTLY_UID
            AND t.Type IN ('CustomField', 'Set') AND t.id > $txn),
       s AS (SELECT *, LAG(old) OVER (PARTITION BY tk, f ORDER BY id) AS prev_old
               FROM w)
       SELECT tk, f, old, new FROM s
        WHERE new = old OR (prev_old IS NOT NULL AND new = prev_old)
        ORDER BY id"
}
# Action keys carried out more than once, over every ticket.
duplicate_keys() {
  sql "SELECT Description FROM Attributes WHERE Name = 'promptly-action'
       GROUP BY Description HAVING COUNT(*) > 1"
}
# Transactions promptly made, per ticket: "ticket|type|field|count" lines.
promptly_txns() {
  sql "SELECT ObjectId, Type, Field, COUNT(*) FROM Transactions
       WHERE ObjectType = 'RT::Ticket' AND Creator = $PROMPTLY_UID
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
}

# --- The test's own database server (E2E_DB=pg|mysql) ---------------------

DBA_PASS=e2e-dba-pass
DB_PID=
e2e_start_db() {
  local dir=$WORK/$E2E_DB-data log=$WORK/db-server.log
  export PROMPTLY_RT_DBHOST=127.0.0.1 PROMPTLY_RT_DBPORT=$E2E_DB_PORT \
    PROMPTLY_RT_DBUSER=rt_user PROMPTLY_RT_DBPASS=e2e-rt-pass
  DB=rt5e2e
  if (exec 3<>"/dev/tcp/127.0.0.1/$E2E_DB_PORT") 2>/dev/null; then
    die "port $E2E_DB_PORT is busy: the test's $E2E_DB server cannot listen there (set E2E_DB_PORT)"
  fi
  case $E2E_DB in
    pg)
      export PROMPTLY_RT_DBTYPE=Pg
      local bin
      bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
      [[ -x "$bin/initdb" ]] || die "PostgreSQL is not installed (no initdb under /usr/lib/postgresql)"
      PG_CTL="$bin/pg_ctl"
      install -d -o postgres -g postgres -m 0700 "$dir"
      runuser -u postgres -- "$bin/initdb" -D "$dir" -U postgres -A trust \
        >"$WORK/db-init.log" 2>&1 ||
        { tail -5 "$WORK/db-init.log"; die "PostgreSQL: initdb failed (see $WORK/db-init.log)"; }
      install -o postgres -m 0644 /dev/null "$log"
      runuser -u postgres -- "$PG_CTL" -D "$dir" -l "$log" -w -t 60 -o \
        "-p $E2E_DB_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
        start >/dev/null 2>&1 ||
        { tail -5 "$log"; die "PostgreSQL did not start on 127.0.0.1:$E2E_DB_PORT (see $log)"; }
      DB_DIR=$dir
      ;;
    mysql)
      export PROMPTLY_RT_DBTYPE=mysql
      install -d -o mysql -g mysql -m 0750 "$dir"
      mariadb-install-db --no-defaults --datadir="$dir" --user=mysql \
        --auth-root-authentication-method=normal --skip-test-db >"$WORK/db-init.log" 2>&1 ||
        { tail -5 "$WORK/db-init.log"; die "MariaDB: mariadb-install-db failed (see $WORK/db-init.log)"; }
      install -o mysql -m 0644 /dev/null "$log"
      DB_DIR=$dir
      db_server_run
      local i
      for i in $(seq 1 150); do
        mariadb-admin --no-defaults -S "$dir/sock" -u root ping >/dev/null 2>&1 && break
        kill -0 "$DB_PID" 2>/dev/null || { tail -5 "$log"; die "MariaDB exited at start (see $log)"; }
        sleep 0.2
      done
      mariadb --no-defaults -S "$dir/sock" -u root -e "
        CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '$DBA_PASS';
        GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" ||
        die "MariaDB did not start on 127.0.0.1:$E2E_DB_PORT (see $log)"
      ;;
  esac
  note "$E2E_DB server of the test on 127.0.0.1:$E2E_DB_PORT ($DB_DIR)"
}

# The MariaDB server process (also to restart it after db_stop).
db_server_run() {
  setsid /usr/sbin/mariadbd --no-defaults --datadir="$DB_DIR" --user=mysql \
    --port="$E2E_DB_PORT" --bind-address=127.0.0.1 --socket="$DB_DIR/sock" \
    --pid-file="$DB_DIR/pid" --skip-name-resolve --max-connections=80 \
    --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=64M \
    --log-error="$WORK/db-server.log" </dev/null >/dev/null 2>&1 &
  DB_PID=$!
}

# Stop the test's database server (fast: clients see it go away) / start
# it again on the same data; db_up says when it answers.
db_stop() {
  case $E2E_DB in
    pg) runuser -u postgres -- "$PG_CTL" -D "$DB_DIR" -m fast -w stop >/dev/null 2>&1 ;;
    mysql)
      [[ -n "$DB_PID" ]] || return 0
      kill -TERM "$DB_PID" 2>/dev/null || true
      local i
      for i in $(seq 1 150); do kill -0 "$DB_PID" 2>/dev/null || break; sleep 0.2; done
      DB_PID= ;;
  esac
}
db_start() {
  case $E2E_DB in
    pg) runuser -u postgres -- "$PG_CTL" -D "$DB_DIR" -l "$WORK/db-server.log" -w -t 60 -o \
          "-p $E2E_DB_PORT -k $DB_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
          start >/dev/null 2>&1 || die "PostgreSQL did not start again (see $WORK/db-server.log)" ;;
    mysql)
      db_server_run
      local i
      for i in $(seq 1 150); do
        mariadb-admin --no-defaults -S "$DB_DIR/sock" -u root ping >/dev/null 2>&1 && return 0
        sleep 0.2
      done
      die "MariaDB did not start again (see $WORK/db-server.log)" ;;
  esac
}
db_up() { sql 'SELECT 1' >/dev/null 2>&1; }
e2e_stop_db() {
  [[ -n "${DB_DIR:-}" ]] || return 0
  db_stop
}
