#!/usr/bin/env bash
# run-demo.sh — seed the demo data set, install and grant the example plugins, and serve.
# Called by `make run` after the plugins and the release binary are built.
set -euo pipefail
# The data directory and everything in it are the service's alone.
umask 077
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BIN=${AIRLOCK_BIN:-$ROOT/target/release/airlock}
export AIRLOCK_DATA_DIR=${AIRLOCK_DATA_DIR:-$ROOT/.airlock}
[ -x "$BIN" ] || { echo "run-demo: $BIN is missing; run 'make run' (it builds it)" >&2; exit 1; }
mkdir -p "$AIRLOCK_DATA_DIR"

"$BIN" demo-data --tickets 300 > "$AIRLOCK_DATA_DIR/demo-data.json"
"$BIN" import "$AIRLOCK_DATA_DIR/demo-data.json"

# The example plugins are signed, as a vendor would sign them, with a demo vendor key;
# the first install pins that key to the vendor "Airlock Examples".
KEY=$AIRLOCK_DATA_DIR/demo-vendor.key
BUNDLES=$AIRLOCK_DATA_DIR/bundles
mkdir -p "$BUNDLES"
[ -s "$KEY" ] || "$BIN" vendor keygen --out "$KEY" > /dev/null
FINGERPRINT=$("$BIN" vendor fingerprint "${KEY%.key}.pub")

install() {  # install NAME READ WRITE SETTINGS
  if ! "$BIN" plugin list | cut -f1 | grep -qx "$1"; then
    "$BIN" plugin pack "$ROOT/plugins/$1" --key "$KEY" --out "$BUNDLES/$1.airlock" > /dev/null
    "$BIN" plugin install "$BUNDLES/$1.airlock" --trust-vendor-key "$FINGERPRINT" > /dev/null
  fi
  "$BIN" plugin grant "$1" --read "$2" --write "$3"
  "$BIN" plugin settings "$1" "$4"
}
install auto-tagger "ticket.subject,ticket.description" "ticket.tags" \
  '{"rules": [{"keyword": "refund", "tag": "billing"}, {"keyword": "charged", "tag": "billing"},
              {"keyword": "crash", "tag": "bug"}, {"keyword": "password", "tag": "auth"},
              {"keyword": "outage", "tag": "incident"}]}'
install vip-escalation \
  "ticket.requester_id,ticket.custom_fields.escalation,requester.email,requester.organization_id,organization.name" \
  "ticket.custom_fields.escalation,ticket.internal_notes" \
  '{"vip_domains": ["bigcorp.example"]}'
# The probe is granted less than it declares: requester.phone stays withheld.
install pii-probe "ticket.subject,ticket.requester_id,requester.email" "" '{}'

"$BIN" plugin list

# A demo admin (once): its one-time password opens a setup session that sets a password
# and enrols TOTP. And an ingest token, which may only post events.
if ! "$BIN" user list | grep -q '^demo-admin'; then
  "$BIN" user create demo-admin --role admin > "$AIRLOCK_DATA_DIR/demo-admin.txt"
fi
if [ ! -s "$AIRLOCK_DATA_DIR/demo-ingest-token" ]; then
  "$BIN" token create --user demo-admin --scope ingest --days 365 --label demo \
    > "$AIRLOCK_DATA_DIR/demo-ingest-token" 2>/dev/null
fi
# Set up only (the service bench serves the directory itself).
[ "${AIRLOCK_DEMO_SETUP_ONLY:-}" = 1 ] && exit 0
cat <<MSG

Demo ready: 300 tickets, 3 plugins.

Sign in as the demo admin with the one-time password in $AIRLOCK_DATA_DIR/demo-admin.txt:
$(sed -n 's/^one-time password (shown once): /  password: /p' "$AIRLOCK_DATA_DIR/demo-admin.txt")
  curl -s -H 'Content-Type: application/json' -d '{"user":"demo-admin","password":"<that password>"}' http://127.0.0.1:8080/api/v1/auth/login
That session may only choose a new password (POST /api/v1/auth/password) and enrol TOTP
(POST /api/v1/auth/mfa/enrol, then /confirm); sign in again with the code afterwards.

Post an event with the ingest token (it may do nothing else):
  TOKEN=\$(cat $AIRLOCK_DATA_DIR/demo-ingest-token)
  curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"type":"ticket-created","ticket":{"id":"t-new","subject":"Refund: charged twice","requester_id":"u-1000"}}' \\
    http://127.0.0.1:8080/api/v1/events
MSG
exec "$BIN" serve
