#!/usr/bin/env bash
# Installs Debian's chromium and a CJK font for the dashboard's real-browser tests when
# they are missing (playwright-core drives /usr/bin/chromium; nothing downloads a
# browser). Done here, before the tests start, so that a fresh machine's install
# (a minute or two) does not run inside a test hook.
set -euo pipefail
chromium=/usr/bin/chromium
font=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
if [ -x "$chromium" ] && [ -f "$font" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "hub: the browser tests need Debian's chromium and fonts-noto-cjk; as root run:" >&2
  echo "  apt-get update && apt-get install -y chromium fonts-noto-cjk" >&2
  exit 1
fi
echo "hub: installing chromium and fonts-noto-cjk for the browser tests (apt-get)..." >&2
flock /tmp/apt.lock sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk' >/dev/null
[ -x "$chromium" ] || { echo "hub: apt-get ran but $chromium is still missing" >&2; exit 1; }
