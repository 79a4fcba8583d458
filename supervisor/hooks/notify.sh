#!/usr/bin/env bash
# Any hook: record the event the supervisor passes on stdin (one JSON object).
# With HERMES_NOTIFY_FILE set, the JSON is appended to that file as one line; otherwise it goes to
# syslog through logger, when logger exists. Example, all in argv (no shell):
#   hooks:
#     on_swap: [env, HERMES_NOTIFY_FILE=/var/log/hermes/events.jsonl, /path/to/supervisor/hooks/notify.sh]
set -euo pipefail

event="$(cat)"

if [[ -n "${HERMES_NOTIFY_FILE:-}" ]]; then
  printf '%s\n' "${event}" >> "${HERMES_NOTIFY_FILE}"
elif command -v logger > /dev/null 2>&1; then
  logger -t hermes-supervisor -- "${HERMES_SUPERVISOR_EVENT:-hook}: ${event}"
fi
