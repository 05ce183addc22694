#!/bin/sh
# Makes the namespace ready for the transcription service: creates it with the retention finished jobs are kept
# for (or sets that retention on an existing one) and registers the search attributes the service filters on.
# Idempotent, so it runs on every `docker compose up`. The API and worker check the same at their start
# (src/temporal/prepare-namespace.ts) but cannot create a namespace, which is why this job exists.
set -eu

# SEARCH_ATTRIBUTES: space-separated name=Type pairs, e.g. "TranscriptionUserId=Keyword".
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION_DAYS:?}" "${SEARCH_ATTRIBUTES:?}"
# Mutual TLS towards the frontend, named as the API and worker name it: TEMPORAL_TLS_CA_FILE (the CA of the
# frontend's certificate), TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE (the operators' client certificate),
# TEMPORAL_TLS_SERVER_NAME (the name in the frontend's certificate). Unset: plain gRPC.

# Hours: a plain Go duration, which every CLI version parses.
retention="$((RETENTION_DAYS * 24))h"
attempts=60

# Every `temporal` command below gets the TLS flags the variables ask for: as flags, whose names have stayed the same
# across CLI releases, not as the CLI's own variables, which were renamed (TEMPORAL_TLS_CERT became
# TEMPORAL_TLS_CLIENT_CERT_PATH).
temporal() {
  [ -z "${TEMPORAL_TLS_CA_FILE:-}" ] || set -- "$@" --tls-ca-path "$TEMPORAL_TLS_CA_FILE"
  [ -z "${TEMPORAL_TLS_CERT_FILE:-}" ] || set -- "$@" --tls-cert-path "$TEMPORAL_TLS_CERT_FILE"
  [ -z "${TEMPORAL_TLS_KEY_FILE:-}" ] || set -- "$@" --tls-key-path "$TEMPORAL_TLS_KEY_FILE"
  [ -z "${TEMPORAL_TLS_SERVER_NAME:-}" ] || set -- "$@" --tls-server-name "$TEMPORAL_TLS_SERVER_NAME"
  command temporal "$@"
}

# The server answers before it is ready, and a namespace just created reaches the frontend's cache only seconds
# later; until then calls naming it fail. Each step is retried rather than failing the whole job.
retry() {
  what="$1"
  shift
  i=1
  until "$@"; do
    if [ "$i" -ge "$attempts" ]; then
      echo "prepare-namespace: gave up: $what" >&2
      return 1
    fi
    echo "prepare-namespace: waiting: $what ($i/$attempts)"
    i=$((i + 1))
    sleep 2
  done
}

ensure_namespace() {
  if temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace update -n "$NAMESPACE" --retention "$retention"
  else
    temporal operator namespace create -n "$NAMESPACE" --retention "$retention"
  fi
}

retry "Temporal at $TEMPORAL_ADDRESS serving" temporal operator cluster health
retry "namespace $NAMESPACE with retention $retention" ensure_namespace
for pair in $SEARCH_ATTRIBUTES; do
  # The CLI refuses a name already registered with another type; the same name and type is a no-op.
  retry "search attribute $pair" \
    temporal operator search-attribute create -n "$NAMESPACE" --name "${pair%%=*}" --type "${pair#*=}"
done
echo "prepare-namespace: $NAMESPACE ready"
