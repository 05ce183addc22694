#!/bin/sh
# Makes the certificates of the Temporal cluster's mutual TLS in TLS_DIR, with openssl, for `npm run cluster` and
# the compose file's `temporal-tls` job alike (docs/cluster.md, "TLS"). Two CAs, so that a client's certificate
# opens the frontend and nothing else:
#   cluster-ca.pem/.key   signs the Temporal servers' own certificates; the internode ports trust only it
#   frontend.pem/.key     the frontend's, for its clients: FRONTEND_NAME, localhost, 127.0.0.1 and FRONTEND_HOSTS
#   internode.pem/.key    the one every Temporal process presents to the others (and the internal worker to the
#                         frontend): INTERNODE_NAME, for server and client authentication
#   client-ca.pem/.key    signs the clients' certificates; the frontend trusts it (and cluster-ca, for the internal
#                         worker)
#   service.pem/.key      the transcription service's (API and worker): TEMPORAL_TLS_CERT_FILE/KEY_FILE
#   operator.pem/.key     the operators' tools: the Temporal CLI, the namespace job, the Web UI
#
# Idempotent: a certificate that is there, signed by its CA, matching its key, naming what it should and valid for
# more than RENEW_DAYS is kept; a missing or failing one is issued again with a new key, which needs its CA's key.
# So an organisation's own certificates, put here under these names, are kept as they are, and no CA key needs to be
# here once every certificate is (docs/cluster.md, "Bringing your own certificates"). Private keys are mode 600;
# TLS_KEY_OWNER (uid:gid) gives the servers' and clients' keys to the user their programs run as (in containers).
set -eu

: "${TLS_DIR:?}"
frontend_name="${FRONTEND_NAME:-temporal-frontend}"
internode_name="${INTERNODE_NAME:-temporal-internode}"
# FRONTEND_HOSTS: the names and addresses clients reach the frontend by besides FRONTEND_NAME (which they can ask for
# with TEMPORAL_TLS_SERVER_NAME), space-separated DNS names or IPv4 addresses: the frontend's certificate must name
# each one.
ca_days="${CA_DAYS:-3650}"
leaf_days="${CERT_DAYS:-397}"
renew_days="${RENEW_DAYS:-30}"
organisation='Transcription service'

say() { echo "make-certificates: $*"; }
fail() {
  echo "make-certificates: $*" >&2
  exit 1
}
command -v openssl >/dev/null 2>&1 || fail 'openssl not found'

umask 077
mkdir -p "$TLS_DIR"
# Readable by the (non-root) users the servers and clients run as; the keys themselves are 600.
chmod 755 "$TLS_DIR"
work="$(mktemp -d "$TLS_DIR/.work-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# subjectAltName of a list of DNS names and IPv4 addresses, each once.
alt_names() {
  names=''
  for host in "$@"; do
    case "$host" in
    *[!0-9.]*) entry="DNS:$host" ;;
    *) entry="IP:$host" ;;
    esac
    case ",$names," in
    *",$entry,"*) ;;
    *) names="$names,$entry" ;;
    esac
  done
  echo "${names#,}"
}

# The DNS names and IPv4 addresses a certificate names, space-separated: a certificate issued again keeps them.
names_of() {
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed '1d' | tr ',' '\n' |
    sed -n 's/^ *DNS:\(.*\)$/\1/p; s/^ *IP Address:\([0-9.]*\)$/\1/p' | tr '\n' ' '
}

# True when the certificate's public key is the key's.
matches_key() {
  [ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]
}

# True when the certificate is valid for more than RENEW_DAYS.
lasts() {
  openssl x509 -in "$1" -noout -checkend "$((renew_days * 86400))" >/dev/null 2>&1
}

# True when the certificate names every one of the hosts after it.
names_all() {
  cert="$1"
  shift
  for host in "$@"; do
    case "$host" in
    *[!0-9.]*) check=-checkhost ;;
    *) check=-checkip ;;
    esac
    openssl x509 -in "$cert" -noout "$check" "$host" 2>/dev/null | grep -q ' does match ' || return 1
  done
}

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# A CA: kept while it lasts; otherwise a new one, which every certificate it signed then follows.
ensure_ca() {
  name="$1"
  common_name="$2"
  if [ -f "$TLS_DIR/$name.pem" ] && lasts "$TLS_DIR/$name.pem"; then
    if [ ! -f "$TLS_DIR/$name.key" ] || matches_key "$TLS_DIR/$name.pem" "$TLS_DIR/$name.key"; then
      return 0
    fi
  fi
  if [ -f "$TLS_DIR/$name.pem" ] && [ ! -f "$TLS_DIR/$name.key" ]; then
    fail "$name.pem expires within $renew_days days, and $name.key is not here to make a new one: replace it"
  fi
  cat >"$work/$name.cnf" <<EOF
[req]
prompt = no
distinguished_name = dn
x509_extensions = ext
[dn]
O = $organisation
CN = $common_name
[ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
  new_key "$work/$name.key"
  openssl req -x509 -new -config "$work/$name.cnf" -key "$work/$name.key" -sha256 -days "$ca_days" \
    -set_serial "0x$(openssl rand -hex 16)" -out "$work/$name.pem"
  mv "$work/$name.key" "$TLS_DIR/$name.key"
  chmod 644 "$work/$name.pem"
  mv "$work/$name.pem" "$TLS_DIR/$name.pem"
  say "made $name.pem ($common_name, $ca_days days)"
}

# Why the certificate `name` has to be issued again, or nothing when it is good: there, matching its key, signed by
# `ca`, valid for more than RENEW_DAYS, and naming each of the hosts after it.
what_is_wrong() {
  name="$1"
  ca="$2"
  shift 2
  cert="$TLS_DIR/$name.pem"
  key="$TLS_DIR/$name.key"
  if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
    echo "$name.pem or $name.key is missing"
  elif ! matches_key "$cert" "$key"; then
    echo "$name.key is not the key of $name.pem"
  elif ! openssl verify -CAfile "$TLS_DIR/$ca.pem" "$cert" >/dev/null 2>&1; then
    echo "$name.pem is not signed by $ca.pem"
  elif ! lasts "$cert"; then
    echo "$name.pem expires within $renew_days days"
  elif ! names_all "$cert" "$@"; then
    echo "$name.pem does not name all of: $*"
  fi
}

# A certificate signed by `ca`, for `usage` (serverAuth, clientAuth or both), naming the hosts after `also`, which
# it must name, and those of `also` (names it is issued with, but which one brought here need not have). Issued
# again, it keeps the names it had (those FRONTEND_HOSTS added once).
ensure_cert() {
  name="$1"
  ca="$2"
  usage="$3"
  common_name="$4"
  also="$5"
  shift 5
  wrong="$(what_is_wrong "$name" "$ca" "$@")"
  [ -n "$wrong" ] || return 0
  [ -f "$TLS_DIR/$ca.key" ] || fail "$wrong, and $ca.key is not here to issue it again: supply $name.pem and $name.key"
  # shellcheck disable=SC2046,SC2086 # `also` and the names are lists
  set -- "$@" $also $([ ! -f "$TLS_DIR/$name.pem" ] || names_of "$TLS_DIR/$name.pem")
  {
    printf '[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nO = %s\nCN = %s\n' "$organisation" "$common_name"
    printf '[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n'
    printf 'extendedKeyUsage = %s\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' "$usage"
    [ "$#" -eq 0 ] || printf 'subjectAltName = %s\n' "$(alt_names "$@")"
  } >"$work/$name.cnf"
  new_key "$work/$name.key"
  openssl req -new -config "$work/$name.cnf" -key "$work/$name.key" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA "$TLS_DIR/$ca.pem" -CAkey "$TLS_DIR/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$leaf_days" \
    -extfile "$work/$name.cnf" -extensions ext -out "$work/$name.pem" 2>/dev/null
  [ -z "${TLS_KEY_OWNER:-}" ] || chown "$TLS_KEY_OWNER" "$work/$name.key"
  mv "$work/$name.key" "$TLS_DIR/$name.key"
  chmod 644 "$work/$name.pem"
  mv "$work/$name.pem" "$TLS_DIR/$name.pem"
  say "issued $name.pem ($common_name${1:+, $(alt_names "$@")}), signed by $ca.pem, for $leaf_days days ($wrong)"
}

ensure_ca cluster-ca 'Temporal cluster CA'
ensure_ca client-ca 'Temporal client CA'
# shellcheck disable=SC2086 # FRONTEND_HOSTS is a list
ensure_cert frontend cluster-ca serverAuth "$frontend_name" 'localhost 127.0.0.1' "$frontend_name" ${FRONTEND_HOSTS:-}
ensure_cert internode cluster-ca serverAuth,clientAuth "$internode_name" '' "$internode_name"
ensure_cert service client-ca clientAuth transcription-service ''
ensure_cert operator client-ca clientAuth temporal-operator ''
say "certificates ready in $TLS_DIR"
