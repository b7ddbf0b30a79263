#!/bin/sh
# The enclave launcher (container entrypoint of the enclave DaemonSet): starts the enclave with
# `nitro-cli run-enclave`, checks every CHECK_INTERVAL_SECS that it still runs, starts it again
# RESTART_DELAY_SECS after it died, and on SIGTERM/SIGINT terminates it and exits 0.
#
# Settings (environment): EIF_PATH, ENCLAVE_CID (16), ENCLAVE_CPU_COUNT (2),
# ENCLAVE_MEMORY_MIB (2048), CHECK_INTERVAL_SECS (5), RESTART_DELAY_SECS (5), DEBUG_MODE (0; 1
# attaches the console, zeroes the PCRs and so loses the DEK), NITRO_CLI (nitro-cli).
# One JSON line per event on stdout.
set -u
EIF_PATH=${EIF_PATH:-/opt/nitro-enc/nitro-enc-svc.eif}
ENCLAVE_CID=${ENCLAVE_CID:-16}
ENCLAVE_CPU_COUNT=${ENCLAVE_CPU_COUNT:-2}
ENCLAVE_MEMORY_MIB=${ENCLAVE_MEMORY_MIB:-2048}
CHECK_INTERVAL_SECS=${CHECK_INTERVAL_SECS:-5}
RESTART_DELAY_SECS=${RESTART_DELAY_SECS:-5}
DEBUG_MODE=${DEBUG_MODE:-0}
NITRO_CLI=${NITRO_CLI:-nitro-cli}

log() { printf '{"ts":"%s","level":"%s","msg":"%s"%s}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "${3:-}"; }

stopping=0
stop() {
  stopping=1
  log info "terminating the enclave"
  "$NITRO_CLI" terminate-enclave --all >/dev/null 2>&1
  exit 0
}
trap stop TERM INT

running() {
  # describe-enclaves prints a JSON list; an enclave of ours is RUNNING with our CID.
  "$NITRO_CLI" describe-enclaves 2>/dev/null | tr -d ' \n' |
    grep -q "\"EnclaveCID\":$ENCLAVE_CID,[^}]*\"State\":\"RUNNING\"\|\"State\":\"RUNNING\"[^}]*\"EnclaveCID\":${ENCLAVE_CID}[,}]"
}

start() {
  debug=""
  [ "$DEBUG_MODE" = 1 ] && debug="--debug-mode"
  # A leftover enclave (a restarted container) holds the CID: remove it first.
  "$NITRO_CLI" terminate-enclave --all >/dev/null 2>&1
  if "$NITRO_CLI" run-enclave --eif-path "$EIF_PATH" --enclave-cid "$ENCLAVE_CID" \
    --cpu-count "$ENCLAVE_CPU_COUNT" --memory "$ENCLAVE_MEMORY_MIB" $debug >/dev/null; then
    log info "enclave started" ",\"cid\":$ENCLAVE_CID,\"cpus\":$ENCLAVE_CPU_COUNT,\"memory_mib\":$ENCLAVE_MEMORY_MIB"
    return 0
  fi
  log error "nitro-cli run-enclave failed" ",\"cid\":$ENCLAVE_CID"
  return 1
}

[ -r "$EIF_PATH" ] || { log error "no EIF" ",\"path\":\"$EIF_PATH\""; exit 2; }
starts=0
while [ $stopping = 0 ]; do
  if ! running; then
    [ $starts -gt 0 ] && log warn "enclave not running; starting it again" ",\"restarts\":$starts"
    starts=$((starts + 1))
    start || { sleep "$RESTART_DELAY_SECS" & wait $!; continue; }
  fi
  sleep "$CHECK_INTERVAL_SECS" &
  wait $!
  running || { sleep "$RESTART_DELAY_SECS" & wait $!; }
done
