#!/usr/bin/env bash
# `deepfake-monitor bench` with notify off, then on (every webhook event to a local receiver process,
# MQTT with Home Assistant discovery and scores every 0.1 s to a local mosquitto), alternating RUNS times.
# Usage: scripts/bench-notify.sh [RUNS] [bench args...]   (default: 2 runs of --streams 4 --seconds 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}; shift || true
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(--streams 4 --seconds 10 --file-runs 1)
py=.venv/bin/python
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hook=$(port); mq=$(port)
$py tests/helpers/http_receiver.py "$hook" >/dev/null &
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mq" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>/dev/null &
sleep 1
cat > "$work/on.yaml" <<YAML
notify:
  allow_networks: ["127.0.0.0/8"]
  webhooks:
    - url: http://127.0.0.1:$hook/hook
      secret: bench-secret-0123456789
      events: [alert_started, alert_ended, stream_started, stream_stopped, stream_error]
  mqtt:
    url: mqtt://127.0.0.1:$mq
    score_interval_s: 0.1
    home_assistant: {enabled: true}
YAML
echo "{}" > "$work/off.yaml"
for i in $(seq "$runs"); do
  for mode in off on; do
    result=$(.venv/bin/deepfake-monitor bench --config "$work/$mode.yaml" --format json "${args[@]}" | tail -1)
    echo "{\"notify\": \"$mode\", \"run\": $i, \"report\": $result}"
  done
done
