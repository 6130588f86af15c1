#!/usr/bin/env bash
# Makes sure the binaries the test session starts are installed: PostgreSQL, Redis, Prometheus
# and Chromium.
# As root, missing ones are installed with apt-get; otherwise the script says what to install.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v prometheus >/dev/null || missing+=(prometheus)
# Browser tests drive Debian's Chromium through Playwright, which never downloads a browser.
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The test session needs these Debian packages: ${missing[*]}" >&2
  echo "Install them (sudo apt-get install -y ${missing[*]}) and run make test again." >&2
  exit 1
fi
echo "Installing ${missing[*]} for the test session..."
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
# The packages start system-wide services; the tests start their own throwaway servers instead.
service redis-server stop >/dev/null 2>&1 || true
service postgresql stop >/dev/null 2>&1 || true
service prometheus stop >/dev/null 2>&1 || true
