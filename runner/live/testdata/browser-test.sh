#!/usr/bin/env bash
# Checks the live view in a real browser: installs Debian's chromium when run
# as root and it is missing, then runs TestBrowser (headless Chromium loads
# the page over a run folder the test grows, and checks that the picture and
# the loss curve appear and then update without a reload) and
# TestBrowserViewer (a viewer opened after the runs ended: final state, a
# sweep's pending points, sorting, overlay, the run page's slider).
#   runner/live/testdata/browser-test.sh            # from the repository root
#   LIVE_SCREENSHOT=/tmp/live.png runner/live/testdata/browser-test.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
if ! command -v chromium >/dev/null && [ -z "${CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "browser-test: skipped: chromium is not installed and this is not root on a Debian host (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"
    exit 0
  fi
fi
echo "browser-test: $(${CHROMIUM:-chromium} --version 2>/dev/null | tail -1)"
exec go test -count=1 -timeout 120s -run '^TestBrowser' -v ./runner/live/
