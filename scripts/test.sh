#!/usr/bin/env bash
# The project's test command; CI runs it through .ci/run.
#
#   ./scripts/test.sh                                   # everything
#   ./scripts/test.sh ./internal/mailrig/...            # some packages
#   ./scripts/test.sh -run TestRestarts -v ./internal/mailrig/
#
# As root on Debian it first installs whatever is missing of APT_PACKAGES
# (without starting any system service), creates the system user vmail, then
# runs the checks (go mod tidy -diff, gofmt -l, go vet, staticcheck from the
# tool directive in go.mod; any finding fails the run) and then go test -race
# -shuffle=on over the module with the real-server tests required
# (INTAKE_REQUIRE_REAL_SERVERS=1: a missing Dovecot/Postfix fails them instead
# of skipping them). Extra arguments go to go test; package arguments must
# start with ./ ../ or the module path, otherwise ./... is tested. The checks
# always cover the whole module; INTAKE_SKIP_CHECKS=1 skips them (local runs
# of single packages only, never in CI).
set -euo pipefail

# Debian packages the tests need. Later work extends this one list.
APT_PACKAGES="dovecot-imapd dovecot-lmtpd postfix chromium chromium-driver"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
module=$(sed -n 's/^module[[:space:]]\+//p' go.mod)

say() { printf '==> %s\n' "$*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

missing_packages() {
	local p
	for p in $APT_PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
	done
	# go test -race needs cgo, i.e. a C compiler.
	command -v gcc >/dev/null 2>&1 || printf '%s\n' gcc libc6-dev
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		say "not a Debian system: install Dovecot (imapd, lmtpd), Postfix and Chromium yourself"
		return
	fi
	local missing
	mapfile -t missing < <(missing_packages)
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages present: $APT_PACKAGES"
		return
	fi
	if ! is_root; then
		say "WARNING: missing ${missing[*]}, and only root can install them; the real-server tests will fail"
		return
	fi
	# No package may start a system-wide daemon (on a host with systemd the
	# postfix and dovecot packages would otherwise start them on public
	# ports). invoke-rc.d asks policy-rc.d; exit 101 means "don't". A
	# policy-rc.d created here is removed again when apt is done (the trap
	# also covers a failed or interrupted install); one that was there before
	# stays untouched.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# created by intake scripts/test.sh: never start services from apt\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
		say "created /usr/sbin/policy-rc.d (exit 101) for the install"
		created_policy=1
	fi
	# "No configuration": no /etc/postfix/main.cf, nothing started.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	say "installing: ${missing[*]}"
	local t0=$SECONDS
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	say "installed in $((SECONDS - t0)) s"
	if [ -n "${created_policy:-}" ]; then
		rm -f /usr/sbin/policy-rc.d
		trap - EXIT
		say "removed /usr/sbin/policy-rc.d again"
	fi
}

ensure_vmail() {
	# Dovecot refuses to run mail processes as root; the rig runs them as vmail.
	if is_root && ! getent passwd vmail >/dev/null; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vmail
		say "created system user vmail"
	fi
}

# axe-core (npm), the accessibility engine the browser tests inject into every page.
# Fetched with npm into a cache outside the repository (never committed); its
# axe.min.js reaches the tests in INTAKE_AXE_JS. Without it the accessibility test
# fails under CI (CI=true) and with INTAKE_REQUIRE_REAL_SERVERS, as set below.
AXE_VERSION="${AXE_VERSION:-4.14}"
fetch_axe() {
	local cache="${INTAKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/intake}/axe-core-$AXE_VERSION"
	local js="$cache/package/axe.min.js"
	if [ ! -s "$js" ]; then
		if ! command -v npm >/dev/null 2>&1; then
			if is_root && command -v apt-get >/dev/null 2>&1; then
				apt-get install -y -qq --no-install-recommends npm >/dev/null
			else
				say "WARNING: npm missing; cannot fetch axe-core (the accessibility test will fail)"
				return
			fi
		fi
		mkdir -p "$cache"
		local tgz
		tgz=$(cd "$cache" && npm pack --silent "axe-core@$AXE_VERSION" | tail -n 1) || { say "WARNING: npm pack axe-core@$AXE_VERSION failed"; return; }
		tar -xzf "$cache/$tgz" -C "$cache" package/axe.min.js package/package.json
	fi
	export INTAKE_AXE_JS="$js"
	say "axe-core $(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$cache/package/package.json" | head -n 1): $js"
}

install_packages
ensure_vmail
fetch_axe

command -v go >/dev/null 2>&1 || { say "go is not on PATH"; exit 1; }
export INTAKE_REQUIRE_REAL_SERVERS=1
export INTAKE_CORPUS="${INTAKE_CORPUS:-$(cd "$repo/.." && pwd)/shared/corpus}"
[ -d "$INTAKE_CORPUS" ] || say "WARNING: INTAKE_CORPUS=$INTAKE_CORPUS does not exist"

versions="$(go version | cut -d' ' -f3)"
command -v dovecot >/dev/null 2>&1 && versions+=", dovecot $(dovecot --version | cut -d' ' -f1)"
command -v postconf >/dev/null 2>&1 && versions+=", postfix $(postconf -d -h mail_version 2>/dev/null)"
is_root || versions+=" (not root: the real-server tests will fail)"
say "$versions; INTAKE_CORPUS=$INTAKE_CORPUS"

# Test ./... unless packages were named.
have_pkgs=
for a in "$@"; do
	case "$a" in ./* | ../* | "$module" | "$module"/*) have_pkgs=1 ;; esac
done
[ -n "$have_pkgs" ] || set -- "$@" ./...

# The checks. Each one fails the run on any finding.
run_checks() {
	local out rc=0
	say "go mod tidy -diff"
	if ! go mod tidy -diff; then
		say "FAIL: go.mod/go.sum are not tidy (run go mod tidy)"
		rc=1
	fi
	say "gofmt -l ."
	out=$(gofmt -l .)
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		say "FAIL: not gofmt-formatted (run gofmt -w on the files above)"
		rc=1
	fi
	say "go vet ./..."
	go vet ./... || { say "FAIL: go vet"; rc=1; }
	say "go tool staticcheck ./..."
	go tool staticcheck ./... || { say "FAIL: staticcheck"; rc=1; }
	return $rc
}
if [ "${INTAKE_SKIP_CHECKS:-}" = 1 ]; then
	say "INTAKE_SKIP_CHECKS=1: tidy, gofmt, vet and staticcheck skipped"
else
	t0=$SECONDS
	run_checks || { say "checks failed ($((SECONDS - t0)) s): no tests run"; exit 1; }
	say "checks passed in $((SECONDS - t0)) s"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
t0=$SECONDS
# -shuffle=on: tests must not depend on their order; a failure prints the
# seed (-test.shuffle N) to repeat it.
say "go test -race -shuffle=on -count=1 -timeout 40m $*"
set +e
go test -race -shuffle=on -count=1 -timeout 40m "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

ok=$(grep -c '^ok ' "$log" || true)
notests=$(grep -c '\[no test files\]' "$log" || true)
failed=$(grep -E '^FAIL[[:space:]]+[^[:space:]]' "$log" | awk '{print $2}' | sort -u || true)
failedtests=$(grep -E -- '--- FAIL: ' "$log" | sed 's/^[[:space:]]*//; s/ (.*//' || true)
skipped=$(grep -c -- '--- SKIP: ' "$log" || true)
echo
say "summary: $ok package(s) ok, $(printf '%s' "$failed" | grep -c . || true) failed, $notests without tests$([ "$skipped" -gt 0 ] && echo ", $skipped test(s) skipped"); $((SECONDS - t0)) s; exit $rc"
if [ -n "$failed" ]; then
	printf '    FAIL %s\n' $failed
	[ -n "$failedtests" ] && printf '%s\n' "$failedtests" | sed 's/^/        /'
fi
exit "$rc"
