# Sourced by scripts/test and scripts/invoke-events: the Python tools the tests need, and
# the moto server (DynamoDB-, SES- and SSM-compatible), installed into .cache/ inside the
# clone. Needs ROOT (the clone).

# moto (the test server), cfn-lint, SAM CLI (its `validate --lint` and its Lambda Runtime
# Interface Emulator). aws-sam-cli installs in about a minute.
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
SAM_CLI_VERSION=1.170.0
VENV="$ROOT/.cache/venv"

install_test_tools() {
  local stamp="$VENV/.installed-moto-$MOTO_VERSION-cfn-lint-$CFN_LINT_VERSION-sam-$SAM_CLI_VERSION"
  if [[ ! -f "$stamp" ]]; then
    echo "installing moto[server]==$MOTO_VERSION, cfn-lint==$CFN_LINT_VERSION and aws-sam-cli==$SAM_CLI_VERSION into .cache/venv" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"
    touch "$stamp"
  fi
}

# Starts moto on a free port, stopped when the calling script exits; sets MOTO_ENDPOINT.
start_moto() {
  local port log
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  mkdir -p "$ROOT/.cache"
  log="$ROOT/.cache/moto.log"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true' EXIT
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  # Ready when DynamoDB's ListTables answers (time-limited: 30 s).
  if ! "$VENV/bin/python" - "$MOTO_ENDPOINT" <<'PY'
import sys, time, urllib.request
endpoint = sys.argv[1]
deadline = time.time() + 30
while time.time() < deadline:
    try:
        req = urllib.request.Request(endpoint, data=b"{}", headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
        })
        with urllib.request.urlopen(req, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY
  then
    echo "moto server did not start on $MOTO_ENDPOINT; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
}
