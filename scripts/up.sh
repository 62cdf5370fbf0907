#!/usr/bin/env bash
# `npm run up`: prepares the host, compiles dist/ (`npm run build`), then starts a one-node cluster
# (`h8s server`, which also starts the runtime daemon on unix:///run/h8s/runtime.sock and the node
# agent) in the background with its data in /var/lib/h8s, and waits until the node is Ready.
#
#   npm run up [-- <h8s server flags>]      e.g. npm run up -- --disable agent,runtime
#
# Environment: H8S_DATA_DIR (default /var/lib/h8s), H8S_PORT (default 6443), and every other
# H8S_<FLAG> that `h8s server --help` lists; H8S_SKIP_HOST_SETUP=1 skips the host preparation.
# Logs: <data-dir>/server.log. Stop it with: kill "$(cat /var/lib/h8s/server.pid)".
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${H8S_SKIP_HOST_SETUP:-0}" != 1 ]; then
  bash scripts/host-setup.sh
fi
# The server and the runtime daemon run the compiled build (bin/h8s.js refuses a stale one).
npm run --silent build -- --quiet

data_dir="${H8S_DATA_DIR:-/var/lib/h8s}"
port="${H8S_PORT:-6443}"
mkdir -p "$data_dir"
chmod 0700 "$data_dir"
pid_file="$data_dir/server.pid"
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "h8s server already running (pid $(cat "$pid_file"))"
else
  nohup node bin/h8s.js server --data-dir "$data_dir" --port "$port" "$@" >>"$data_dir/server.log" 2>&1 &
  echo $! >"$pid_file"
fi

ca="$data_dir/server/tls/server-ca.crt"
for _ in $(seq 1 120); do
  # /readyz needs no credential; the server's own CA proves we reach the right server.
  if [ -f "$ca" ] && [ -f "$data_dir/kubeconfig.yaml" ] &&
    curl -fsS --max-time 2 --cacert "$ca" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    if [ "$data_dir" = /var/lib/h8s ]; then sock=/run/h8s/runtime.sock; else sock="$data_dir/runtime.sock"; fi
    if [[ " $* " != *" runtime"* && " $* " != *",runtime"* ]]; then
      # the runtime daemon starts right after the API; give it a moment to serve
      for _ in $(seq 1 60); do
        [ -S "$sock" ] && break
        sleep 1
      done
    fi
    if [[ " $* " != *"agent"* ]]; then
      # the node agent registers the node and reports it Ready once the runtime answers
      node_ready=0
      for _ in $(seq 1 90); do
        if kubectl --kubeconfig "$data_dir/kubeconfig.yaml" get nodes --no-headers 2>/dev/null | grep -q ' Ready '; then
          node_ready=1
          break
        fi
        sleep 1
      done
      if [ "$node_ready" != 1 ]; then
        echo "the node did not become Ready within 90 s; see $data_dir/server.log" >&2
        exit 1
      fi
    fi
    echo "h8s is up at https://127.0.0.1:$port"
    echo "  npx hyperctl info"
    echo "  kubectl --kubeconfig $data_dir/kubeconfig.yaml get nodes"
    echo "  export KUBECONFIG=$data_dir/kubeconfig.yaml   # or: node bin/h8s.js kubeconfig --data-dir $data_dir"
    exit 0
  fi
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "h8s server exited; see $data_dir/server.log" >&2
    tail -n 30 "$data_dir/server.log" >&2 || true
    exit 1
  fi
  sleep 1
done
echo "h8s server did not become ready within 120 s; see $data_dir/server.log" >&2
exit 1
