#!/usr/bin/env bash
# pre_restart hook: veto a gateway's restart while a drain flag exists.
#   hooks:
#     pre_restart: [/path/to/supervisor/hooks/pre-restart-drain.sh]
# Flags live in $HERMES_DRAIN_DIR (default ~/.hermes/drain): "all" holds every restart, "<profile>"
# holds that profile's. Any non-zero exit vetoes the restart; what goes to stderr lands in the
# hook.run event, so say why.
set -euo pipefail

drain_dir="${HERMES_DRAIN_DIR:-${HOME}/.hermes/drain}"
profile="${HERMES_SUPERVISOR_PROFILE:-}"

if [[ -e "${drain_dir}/all" ]]; then
  printf 'restart vetoed: %s exists\n' "${drain_dir}/all" >&2
  exit 1
fi
if [[ -n "${profile}" && -e "${drain_dir}/${profile}" ]]; then
  printf 'restart of %s vetoed: %s exists\n' "${profile}" "${drain_dir}/${profile}" >&2
  exit 1
fi
exit 0
