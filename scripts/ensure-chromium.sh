#!/usr/bin/env bash
# Installs what the browser and terminal client tests drive: Debian's
# chromium (for playwright-core, which ships no browser of its own) and tmux.
# Idempotent: does nothing when both are present. Needs root (CI runs as root).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "ensure-chromium: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
[ -x /usr/bin/chromium ] || { echo "ensure-chromium: /usr/bin/chromium still missing" >&2; exit 1; }
