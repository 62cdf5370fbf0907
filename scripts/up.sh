#!/usr/bin/env bash
# `npm run up`: prepares the host, then starts a one-node cluster (server + agent + runtime)
# in the background with its data in /var/lib/h8s, and waits until the API answers.
# Logs: /var/lib/h8s/server.log. Stop it with: kill "$(cat /var/lib/h8s/server.pid)".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/host-setup.sh

data_dir="${H8S_DATA_DIR:-/var/lib/h8s}"
mkdir -p "$data_dir"
if [ -f "$data_dir/server.pid" ] && kill -0 "$(cat "$data_dir/server.pid")" 2>/dev/null; then
  echo "h8s server already running (pid $(cat "$data_dir/server.pid"))"
else
  nohup node bin/h8s.js server --data-dir "$data_dir" "$@" >>"$data_dir/server.log" 2>&1 &
  echo $! >"$data_dir/server.pid"
fi

for _ in $(seq 1 120); do
  if [ -f "$data_dir/kubeconfig.yaml" ] && kubectl --kubeconfig "$data_dir/kubeconfig.yaml" get --raw /readyz >/dev/null 2>&1; then
    echo "h8s is up. Try: kubectl --kubeconfig $data_dir/kubeconfig.yaml get nodes"
    exit 0
  fi
  if ! kill -0 "$(cat "$data_dir/server.pid")" 2>/dev/null; then
    echo "h8s server exited; see $data_dir/server.log" >&2
    tail -n 30 "$data_dir/server.log" >&2 || true
    exit 1
  fi
  sleep 1
done
echo "h8s server did not become ready within 120 s; see $data_dir/server.log" >&2
exit 1
