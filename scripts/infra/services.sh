#!/usr/bin/env bash
# Test infrastructure without Docker: a single-node KRaft Kafka, a single Cassandra 5.0 node and Redis,
# all on 127.0.0.1. Jars come from Maven Central (poms beside this script); run data, logs and jars live in
# the git-ignored .infra/ at the repo root. See docs/infra.md.
#
#   services.sh fetch  [kafka|cassandra|all]   copy the jars into .infra/<svc>-libs (skipped when complete)
#   services.sh start  [kafka|cassandra|redis|all]   launch in the background; no-op for what already runs
#   services.sh wait   [..]                    block until each answers its protocol, or fail with the log tail
#   services.sh up     [..]                    start + wait
#   services.sh stop   [..]                    SIGTERM (then SIGKILL) what this script started
#   services.sh status [..]                    pid, readiness and RSS of each
#   services.sh clean  [..]                    stop, then delete run data (keeps the jars)
#   services.sh urls                           print LOG_URL, STORE_URL and REDIS_URL for the ports in use
#
# Environment (defaults in brackets): KAFKA_PORT [19092], KAFKA_CONTROLLER_PORT [19093],
# CASSANDRA_PORT [19042], CASSANDRA_STORAGE_PORT [17000], CASSANDRA_SSL_STORAGE_PORT [17001],
# REDIS_PORT [6379], KAFKA_HEAP [512m], CASSANDRA_HEAP [1g], KAFKA_AUTO_CREATE_TOPICS [false],
# INFRA_CDS [1] (Cassandra class-data-sharing archive), KAFKA_JVM_OPTS / CASSANDRA_JVM_OPTS (extra JVM flags, split on spaces),
# KAFKA_VERSION / CASSANDRA_VERSION (one version, instead of trying the fallback list),
# KAFKA_WAIT_S [90], CASSANDRA_WAIT_S [240], REDIS_WAIT_S [20], JAVA17_HOME,
# INFRA_RUN_DIR (run data, logs, pids) and INFRA_LIBS_DIR (jars), both [<repo>/.infra].
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUN=${INFRA_RUN_DIR:-$ROOT/.infra}
# Jars are kept apart from run data so a second run dir (other ports) does not re-fetch them.
LIBS=${INFRA_LIBS_DIR:-$ROOT/.infra}

# Cassandra 5.0 runs on Java 11/17 only (24+ removed System.setSecurityManager); never take JAVA_HOME,
# which may point at a newer JDK.
JAVA17_HOME=${JAVA17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
JAVA=$JAVA17_HOME/bin/java

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
CASSANDRA_PORT=${CASSANDRA_PORT:-19042}
CASSANDRA_STORAGE_PORT=${CASSANDRA_STORAGE_PORT:-17000}
CASSANDRA_SSL_STORAGE_PORT=${CASSANDRA_SSL_STORAGE_PORT:-17001}
REDIS_PORT=${REDIS_PORT:-6379}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
CASSANDRA_HEAP=${CASSANDRA_HEAP:-1g}
KAFKA_AUTO_CREATE_TOPICS=${KAFKA_AUTO_CREATE_TOPICS:-false}
KAFKA_VERSIONS=${KAFKA_VERSION:-3.9.2 3.9.1}
CASSANDRA_VERSIONS=${CASSANDRA_VERSION:-5.0.8 5.0.7 5.0.6}
KAFKA_WAIT_S=${KAFKA_WAIT_S:-90}
CASSANDRA_WAIT_S=${CASSANDRA_WAIT_S:-240}
REDIS_WAIT_S=${REDIS_WAIT_S:-20}

# Main class of each JVM: identifies our process behind a pid file (guards against pid reuse).
KAFKA_MAIN=kafka.Kafka
CASSANDRA_MAIN=org.apache.cassandra.service.CassandraDaemon

log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------
# Probes. Each speaks the service's own protocol over bash's /dev/tcp, so readiness never depends on
# log wording, on a client being installed, or on who started the service.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Reads up to $2 bytes from fd 3 within 3 s, printed as hex.
read_hex() { timeout 3 head -c "$1" <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }

# Kafka ApiVersions v0 (api_key 18, correlation id 1, null client id). The broker opens its data-plane
# listener only once it is unfenced, so an answer means it is ready for clients.
kafka_ready() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3
    # size(4) correlation_id(4)=1 error_code(2)=0
    [[ $(read_hex 10) =~ ^[0-9a-f]{8}000000010000$ ]]
  ) 2>/dev/null
}

# CQL v4 OPTIONS frame; a ready node answers SUPPORTED (response version 0x84, opcode 0x06).
cql_ready() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf '\x04\x00\x00\x00\x05\x00\x00\x00\x00' >&3
    [[ $(read_hex 9) =~ ^84[0-9a-f]{2}000006 ]]
  ) 2>/dev/null
}

redis_ready() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    [[ $(read_hex 5) == 2b504f4e47 ]]   # "+PONG"
  ) 2>/dev/null
}

# ---------------------------------------------------------------------------------------------------------
# Processes: every service has .infra/<svc>/pid, written by the launched shell right before it execs.

pid_file() { echo "$RUN/$1/pid"; }

# Prints the pid when the pid file names a live process whose command line contains $2.
live_pid() {
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

main_of() {
  case $1 in
    kafka) echo "$KAFKA_MAIN" ;;
    cassandra) echo "$CASSANDRA_MAIN" ;;
    redis) echo redis-server ;;
  esac
}

port_of() {
  case $1 in
    kafka) echo "$KAFKA_PORT" ;;
    cassandra) echo "$CASSANDRA_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
  esac
}

ready() {
  case $1 in
    kafka) kafka_ready "$KAFKA_PORT" ;;
    cassandra) cql_ready "$CASSANDRA_PORT" ;;
    redis) redis_ready "$REDIS_PORT" ;;
  esac
}

# Runs "$@" detached in its own session (so it outlives this shell and its job control), stdout and
# stderr appended to $2, pid written to $1 by the child itself (exact even when setsid has to fork).
launch() {
  local pidf=$1 logf=$2
  shift 2
  rm -f "$pidf"
  # shellcheck disable=SC2016 # $$ and "$@" expand in the child shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" >>"$logf" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $pidf ]] && return 0; sleep 0.1; done
  die "no pid file from $*"
}

# Keeps the previous run's log for post-mortems and starts a fresh one.
rotate_log() {
  [[ -f $1 ]] && mv -f "$1" "$1.prev"
  : >"$1"
}

# ---------------------------------------------------------------------------------------------------------
# Tooling: install only what is missing (root on these machines; apt-get needs an update first).

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not available; install $* by hand"
  log "installing $* with apt-get"
  [[ -n ${INFRA_APT_UPDATED:-} ]] || { apt-get update -qq >&2; INFRA_APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_java() {
  [[ -x $JAVA ]] || apt_install openjdk-17-jre-headless
  [[ -x $JAVA ]] || die "no Java 17 at $JAVA (set JAVA17_HOME)"
}

ensure_mvn() { command -v mvn >/dev/null || apt_install maven; }

# ---------------------------------------------------------------------------------------------------------
# fetch

# Jars each runtime cannot start without; a missing one means Maven silently dropped transitive deps.
required_jars() {
  case $1 in
    kafka) echo 'kafka_2.13- kafka-clients- kafka-server-common- kafka-raft- kafka-metadata- scala-library- reload4j- slf4j-reload4j- slf4j-api-' ;;
    cassandra) echo 'cassandra-all- jamm- jna- logback-classic- netty-all- netty-transport-native-epoll- snakeyaml- guava- chronicle-queue- caffeine-' ;;
  esac
}

min_jar_count() { case $1 in kafka) echo 40 ;; cassandra) echo 80 ;; esac; }

lib_dir() { echo "$LIBS/$1-libs"; }

versions_of() { case $1 in kafka) echo "$KAFKA_VERSIONS" ;; cassandra) echo "$CASSANDRA_VERSIONS" ;; esac; }

# Stamp of a complete lib dir: the pom's checksum (editing a pom triggers a re-fetch) and the version
# fetched, which must be one of the versions asked for.
pom_sum() { sha256sum "$HERE/$1/pom.xml" | cut -c1-16; }

libs_complete() {
  local stamp v
  stamp="$(lib_dir "$1")/.complete"
  [[ -f $stamp ]] && grep -qx "pom=$(pom_sum "$1")" "$stamp" || return 1
  v=$(sed -n 's/^version=//p' "$stamp")
  [[ " $(versions_of "$1") " == *" $v "* ]]
}

check_jars() {
  local dir=$1 svc=$2 prefix n
  for prefix in $(required_jars "$svc"); do
    compgen -G "$dir/${prefix}[0-9]*.jar" >/dev/null || { log "$svc: missing ${prefix}*.jar"; return 1; }
  done
  n=$(find "$dir" -maxdepth 1 -name '*.jar' | wc -l)
  ((n >= $(min_jar_count "$svc"))) || { log "$svc: only $n jars"; return 1; }
}

fetch_one() {
  local svc=$1 versions prop dir tmp flog v
  libs_complete "$svc" && return 0
  ensure_mvn
  ensure_java
  versions=$(versions_of "$svc") prop=$svc.version
  dir=$(lib_dir "$svc") tmp="$(lib_dir "$svc").tmp" flog="$RUN/$svc/fetch.log"
  mkdir -p "$RUN/$svc"
  : >"$flog"
  for v in $versions; do
    log "$svc: fetching $v (log: $flog)"
    rm -rf "$tmp"
    # -U: re-ask for artifacts cached as missing. Maven's exit code alone is not trusted: an invalid
    # parent POM can silently drop transitive deps, so the jar checks decide.
    if JAVA_HOME=$JAVA17_HOME mvn -B -q -U -f "$HERE/$svc/pom.xml" "-D$prop=$v" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >>"$flog" 2>&1 &&
      check_jars "$tmp" "$svc"; then
      rm -rf "$dir"
      mv "$tmp" "$dir"
      printf 'version=%s\npom=%s\n' "$v" "$(pom_sum "$svc")" >"$dir/.complete"
      log "$svc: $v ready ($(find "$dir" -name '*.jar' | wc -l) jars, $(du -sh "$dir" | cut -f1))"
      return 0
    fi
    log "$svc: $v not usable from the registry"
  done
  rm -rf "$tmp"
  tail -n 30 "$flog" >&2
  die "$svc: none of [$versions] could be fetched"
}

# ---------------------------------------------------------------------------------------------------------
# start

# True when the service already runs: our own process (pid file), or any server that already answers the
# protocol on the port (Redis from the machine's image, a node started from another checkout); `stop`
# leaves the latter alone. A port held by something that does not answer is an error: starting anyway
# would only fail later with a bind error.
already_running() {
  local svc=$1 pid port was
  port=$(port_of "$svc")
  if pid=$(live_pid "$svc" "$(main_of "$svc")"); then
    was=$(cat "$RUN/$svc/port" 2>/dev/null || echo "$port")
    [[ $was == "$port" ]] || die "$svc: already running on port $was (pid $pid); stop it before changing ports"
    log "$svc: already running (pid $pid)"
    return 0
  fi
  rm -f "$(pid_file "$svc")"
  if ready "$svc"; then
    log "$svc: reusing the server that already answers on 127.0.0.1:$port (not ours: stop leaves it alone)"
    return 0
  fi
  port_open "$port" && die "$svc: 127.0.0.1:$port is taken by a process that does not answer as $svc (see ss -ltnp); set ${svc^^}_PORT"
  return 1
}

new_cluster_id() {
  # Kafka's Uuid: 16 random bytes, base64url without padding (22 chars); Kafka never hands out ids that
  # start with '-' because they read as command-line flags.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && { echo "$id"; return; }
  done
}

start_kafka() {
  already_running kafka && return 0
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $KAFKA_CONTROLLER_PORT is taken"
  fetch_one kafka
  local dir="$RUN/kafka" cp props
  cp="$(lib_dir kafka)/*" props="$dir/server.properties"
  mkdir -p "$dir/data"
  sed -e "s#__DATA__#$dir/data#g" -e "s#__PORT__#$KAFKA_PORT#g" \
    -e "s#__CONTROLLER_PORT__#$KAFKA_CONTROLLER_PORT#g" -e "s#__AUTO_CREATE__#$KAFKA_AUTO_CREATE_TOPICS#g" \
    "$HERE/kafka/server.properties.in" >"$props"
  rotate_log "$dir/server.log"
  local log4j=(-Dlog4j.configuration="file:$HERE/kafka/log4j.properties" -Dkafka.logs.dir="$dir") extra
  read -ra extra <<<"${KAFKA_JVM_OPTS:-}"
  if [[ ! -f $dir/data/meta.properties ]]; then
    # A fresh data dir must be formatted once; costs one extra JVM start.
    [[ -f $dir/cluster-id ]] || new_cluster_id >"$dir/cluster-id"
    log "kafka: formatting $dir/data"
    "$JAVA" "${log4j[@]}" -cp "$cp" kafka.tools.StorageTool format \
      -t "$(<"$dir/cluster-id")" -c "$props" --ignore-formatted >>"$dir/server.log" 2>&1 ||
      { tail -n 30 "$dir/server.log" >&2; die "kafka: storage format failed"; }
  fi
  echo "$KAFKA_PORT" >"$RUN/kafka/port"
  log "kafka: starting on 127.0.0.1:$KAFKA_PORT (log: $dir/server.log)"
  # The flags bin/kafka-run-class.sh uses.
  launch "$(pid_file kafka)" "$dir/server.log" "$JAVA" "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
    "${log4j[@]}" "${extra[@]}" -cp "$cp" "$KAFKA_MAIN" "$props"
}

start_cassandra() {
  already_running cassandra && return 0
  for p in "$CASSANDRA_STORAGE_PORT" "$CASSANDRA_SSL_STORAGE_PORT"; do
    port_open "$p" && die "cassandra: storage port $p is taken"
  done
  fetch_one cassandra
  local dir="$RUN/cassandra" libs jamm cds=() extra
  read -ra extra <<<"${CASSANDRA_JVM_OPTS:-}"
  libs=$(lib_dir cassandra)
  jamm=$(compgen -G "$libs/jamm-[0-9]*.jar" | head -n 1)
  # Class-data sharing: the first run dumps the classes it loaded into an archive when it exits (on
  # stop); later starts map it and boot ~2 s faster. The archive lives in the lib dir, so a re-fetch drops
  # it; a stale or broken archive is ignored by the JVM (-Xshare:auto). INFRA_CDS=0 turns this off.
  if [[ ${INFRA_CDS:-1} == 1 ]]; then
    [[ -s $libs/cds.jsa.new ]] && mv -f "$libs/cds.jsa.new" "$libs/cds.jsa"
    if [[ -s $libs/cds.jsa ]]; then
      cds=(-XX:SharedArchiveFile="$libs/cds.jsa" -Xlog:cds=off)
    else
      # jamm is a java agent; dumping with one needs this diagnostic switch.
      cds=(-XX:+UnlockDiagnosticVMOptions -XX:+AllowArchivingWithJavaAgent
        -XX:ArchiveClassesAtExit="$libs/cds.jsa.new" -Xlog:cds=off)
    fi
  fi
  # JNA unpacks its native library into the tmp dir, which must allow exec.
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  rotate_log "$dir/server.log"
  echo "$CASSANDRA_PORT" >"$RUN/cassandra/port"
  log "cassandra: starting on 127.0.0.1:$CASSANDRA_PORT (log: $dir/server.log)"
  launch "$(pid_file cassandra)" "$dir/server.log" "$JAVA" "@$HERE/cassandra/jvm17.args" \
    "-Xms$CASSANDRA_HEAP" "-Xmx$CASSANDRA_HEAP" -javaagent:"$jamm" \
    -Dcassandra-foreground=yes \
    -Dcassandra.config="file://$HERE/cassandra/cassandra.yaml" \
    -Dcassandra.native_transport_port="$CASSANDRA_PORT" \
    -Dcassandra.storage_port="$CASSANDRA_STORAGE_PORT" \
    -Dcassandra.ssl_storage_port="$CASSANDRA_SSL_STORAGE_PORT" \
    -Dcassandra.storagedir="$dir/data" -Dcassandra.logdir="$dir/logs" \
    -Dlogback.configurationFile="$HERE/cassandra/logback.xml" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.initial_token=0 \
    -Dcassandra.load_ring_state=false \
    -Dcassandra.system_distributed.default_rf=1 -Dcassandra.system_traces.default_rf=1 \
    -Djava.io.tmpdir="$dir/tmp" -Djna.tmpdir="$dir/tmp" \
    "${cds[@]}" "${extra[@]}" -cp "$libs/*" "$CASSANDRA_MAIN"
}

start_redis() {
  # Installed even when a Redis already answers on the port: the Redis restart tests kill a private
  # redis-server of their own (the shared one is never restarted).
  command -v redis-server >/dev/null || apt_install redis-server
  already_running redis && return 0
  # The Debian package may have started its own server on 6379 during install.
  redis_ready "$REDIS_PORT" && { log "redis: answering on 127.0.0.1:$REDIS_PORT"; return 0; }
  local dir="$RUN/redis"
  mkdir -p "$dir"
  rotate_log "$dir/server.log"
  echo "$REDIS_PORT" >"$RUN/redis/port"
  log "redis: starting on 127.0.0.1:$REDIS_PORT (log: $dir/server.log)"
  launch "$(pid_file redis)" "$dir/server.log" "$(command -v redis-server)" --port "$REDIS_PORT" \
    --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize no
}

# ---------------------------------------------------------------------------------------------------------
# wait / stop / status

wait_timeout() {
  case $1 in
    kafka) echo "$KAFKA_WAIT_S" ;;
    cassandra) echo "$CASSANDRA_WAIT_S" ;;
    redis) echo "$REDIS_WAIT_S" ;;
  esac
}

fail_with_log() {
  local f="$RUN/$1/server.log"
  log "$1: $2"
  if [[ -f $f ]]; then
    log "---- last 60 lines of $f ----"
    tail -n 60 "$f" >&2
  fi
  return 1
}

wait_one() {
  local svc=$1 t start pidf
  t=$(wait_timeout "$svc") start=$SECONDS pidf=$(pid_file "$svc")
  until ready "$svc"; do
    # Our own process died: no point waiting out the timeout.
    if [[ -f $pidf ]] && ! live_pid "$svc" "$(main_of "$svc")" >/dev/null; then
      fail_with_log "$svc" "process exited before it was ready"
      return 1
    fi
    if [[ ! -f $pidf ]] && ! port_open "$(port_of "$svc")" && ((SECONDS - start >= 2)); then
      log "$svc: not running (run: services.sh start $svc)"
      return 1
    fi
    if ((SECONDS - start >= t)); then
      fail_with_log "$svc" "not ready after ${t}s"
      return 1
    fi
    sleep 0.5
  done
  log "$svc: ready on 127.0.0.1:$(port_of "$svc") (waited $((SECONDS - start))s)"
}

# Sends SIGTERM (Kafka's controlled shutdown, Cassandra's drain hook) and prints the pid to wait for.
stop_signal() {
  local svc=$1 pid
  if ! pid=$(live_pid "$svc" "$(main_of "$svc")"); then
    rm -f "$(pid_file "$svc")"
    if ready "$svc"; then
      log "$svc: not started from $RUN; leaving the server on 127.0.0.1:$(port_of "$svc") alone"
    else
      log "$svc: not running"
    fi
    return 0
  fi
  log "$svc: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  echo "$pid"
}

stop_wait() {
  local svc=$1 pid=$2 i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$svc: still alive after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$svc")"
  log "$svc: stopped"
}

# Signals every service first and then waits, so the shutdowns overlap.
stop_all() {
  local svc pid pids=()
  for svc in "$@"; do
    pid=$(stop_signal "$svc")
    [[ -n $pid ]] && pids+=("$svc:$pid")
  done
  for pid in "${pids[@]}"; do stop_wait "${pid%%:*}" "${pid#*:}"; done
}

status_one() {
  local svc=$1 pid state rss=-
  if pid=$(live_pid "$svc" "$(main_of "$svc")"); then
    rss=$(awk '/^VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status")
  else
    pid=-
  fi
  if ready "$svc"; then state=ready; elif [[ $pid != - ]]; then state=starting; else state=down; fi
  printf '%-10s %-9s pid=%-8s port=%-6s rss=%s\n' "$svc" "$state" "$pid" "$(port_of "$svc")" "$rss"
}

print_urls() {
  echo "LOG_URL=kafka://127.0.0.1:$KAFKA_PORT STORE_URL=cassandra://127.0.0.1:$CASSANDRA_PORT/chat REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
}

# ---------------------------------------------------------------------------------------------------------

# Expands the service arguments ("all" or nothing = every service) in start order: Cassandra first,
# since it is the slowest, so its JVM boots while Kafka is fetched and formatted.
services() {
  local all=(cassandra kafka redis) out=() s
  (($# == 0)) && set -- all
  for s in "$@"; do
    case $s in
      all) out=("${all[@]}") ;;
      kafka | cassandra | redis) out+=("$s") ;;
      *) die "unknown service '$s' (kafka, cassandra, redis, all)" ;;
    esac
  done
  for s in "${all[@]}"; do
    if [[ " ${out[*]} " == *" $s "* ]]; then echo "$s"; fi
  done
}

usage() { sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local cmd=${1:-} svc list failed=0
  (($# > 0)) && shift
  list=$(services "$@") || exit 2
  mkdir -p "$RUN"
  case $cmd in
    fetch)
      for svc in $list; do [[ $svc == redis ]] || fetch_one "$svc"; done ;;
    start)
      ensure_java
      for svc in $list; do "start_$svc"; done ;;
    wait)
      for svc in $list; do wait_one "$svc" || failed=1; done
      ((failed == 0)) || exit 1
      print_urls ;;
    up)
      main start "$@"
      main wait "$@" ;;
    stop)
      # shellcheck disable=SC2086 # service names are single words
      stop_all $list ;;
    status)
      for svc in $list; do status_one "$svc"; done ;;
    clean)
      # shellcheck disable=SC2086
      stop_all $list
      for svc in $list; do
        rm -rf "${RUN:?}/$svc/data" "$RUN/$svc/tmp" "$RUN/$svc/logs" "$RUN/$svc/cluster-id" "$RUN/$svc/port"
      done ;;
    urls) print_urls ;;
    -h | --help | help | '') usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
