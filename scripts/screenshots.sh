#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png — the worklist, a case and the audit log, in German
# and English — with headless Chromium (Debian's chromium, or $INTAKE_CHROMIUM) from a
# seeded register (web.TestScreenshots). Look at them before committing.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
INTAKE_SCREENSHOTS="$repo/docs/screenshots" go test -count=1 -run '^TestScreenshots$' -v ./web/ | grep -E '^(ok|FAIL|---|\s+screenshots_test)' || true
ls -l docs/screenshots/*.png
