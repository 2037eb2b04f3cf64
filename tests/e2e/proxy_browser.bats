#!/usr/bin/env bats
# Sticky deploys under a real browser: headless Chromium (Debian's chromium,
# driven by puppeteer-core, tests/e2e/browser/sticky.js) loads a page with
# 12 assets in 4 contexts (4 cookie jars) without a pause while the proxy
# switches between two versions. With --sticky no request fails, no page
# load mixes versions, and every drain ends by itself; without it, the same
# browser sees mixed page loads (so the harness can see them).
#
# Needs chromium, node and npm (scripts/deps.sh test); setup_file runs
# npm ci in tests/e2e/browser when its node_modules is missing or stale.
# Fails, never skips, when Chromium cannot start here.

load proxy_helpers

STICKY_JS=$BATS_TEST_DIRNAME/browser/sticky.js
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

setup_file() {
	"$BATS_TEST_DIRNAME/browser/setup.sh" 2>&1 || {
		echo "# the browser test cannot run: its npm packages did not install (see above)" >&3
		return 1
	}
	# Chromium starts here (a few seconds once, then it is in the page cache)
	local out
	out=$(timeout 60 node "$STICKY_JS" --check --chromium "$CHROMIUM" 2>&1) || {
		echo "# Chromium ($CHROMIUM) cannot start here, so the real-browser test cannot run:" >&3
		sed 's/^/#   /' <<< "$out" >&3
		return 1
	}
	echo "# $out" >&3
}

setup() {
	px_setup
	P1=$(free_port)
	P2=$(free_port)
	start_backend "$P1" v1
	start_backend "$P2" v2
	start_proxy
}

teardown() {
	px_teardown
}

# Chromium with 4 contexts loading /page until $PX_DIR/stop exists (at most
# 70 s); waits until each context has loaded a page. Chromium runs in
# sticky.js's process group, and sticky.js adds the groups of Chromium's
# crash handler to $PX_DIR/pgids: px_teardown ends them all.
start_browser() {
	px_spawn "$PX_DIR/browser.out" node "$STICKY_JS" "$PROXY_PORT" --contexts 4 --stop-file "$PX_DIR/stop" \
		--max-seconds 70 --profile-dir "$PX_DIR/chromium" --pgids-file "$PX_DIR/pgids" --verbose > /dev/null
	local i
	for i in $(seq 300); do
		[ "$(grep -c '^tab[0-3] load 0:' "$PX_DIR/browser.out")" = 4 ] && return 0
		grep -q 'did not start' "$PX_DIR/browser.out" && break
		sleep 0.1
	done
	echo "Chromium did not load pages:" >&2
	cat "$PX_DIR/browser.out" >&2
	return 1
}

# Stop the browser and wait for its report line (it finishes the page loads
# under way, then closes Chromium).
stop_browser() {
	touch "$PX_DIR/stop"
	local i
	for i in $(seq 300); do
		grep -q '^pages=' "$PX_DIR/browser.out" && break
		sleep 0.1
	done
	grep -v '^tab[0-3] load ' "$PX_DIR/browser.out"
	grep -q '^pages=' "$PX_DIR/browser.out"
}

report() { # KEY: a number from the browser's report line
	grep '^pages=' "$PX_DIR/browser.out" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

switch_to() { # deploy|rollback [--target ADDR] OPTIONS...
	local what=$1
	shift
	px "$what" app --health-interval 20ms --health-successes 1 "$@"
}

@test "real browser, sticky: deploys and back fail no request, mix no page load, and every drain ends by itself" {
	px_deploy app "$P1" --sticky > /dev/null
	start_browser
	local t out secs drains=()
	for t in "$P2" "$P1" "$P2" rollback; do
		sleep 1
		if [ "$t" = rollback ]; then
			out=$(switch_to rollback --sticky --sticky-idle 1s --drain 20s)
		else
			out=$(switch_to deploy --target "127.0.0.1:$t" --sticky --sticky-idle 1s --drain 20s)
		fi
		echo "$out"
		# ended because the old sessions moved on, not at the 20 s limit
		[[ $out == *"drained '127.0.0.1:"*"': 0 requests in flight after "* ]]
		[[ $out != *"drain timeout"* ]]
		secs=$(sed -n 's/.*in flight after \([0-9.]*\)s$/\1/p' <<< "$out")
		drains+=("$secs")
		# the idle second plus about one page load
		awk -v s="$secs" 'BEGIN { exit !(s < 8) }'
	done
	sleep 1
	stop_browser
	echo "# sticky: $(grep '^pages=' "$PX_DIR/browser.out"); drains ${drains[*]} s" >&3
	echo "# $(grep '^browsed for' "$PX_DIR/browser.out")" >&3
	[ "$(report failed)" = 0 ]
	[ "$(report mixed)" = 0 ]
	[ "$(report versions)" = v1,v2 ]
	[ "$(report pages)" -ge 20 ]
	# nothing was cut, and the proxy counted no failure
	px status --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["services"][0]["targets"]:
    assert t["cut"] == 0 and t["requests"]["5xx"] == 0 and t["requests"]["4xx"] == 0, t'
}

@test "real browser, without --sticky: the same switches mix page loads (the control: the harness sees them) and fail nothing" {
	px_deploy app "$P1" > /dev/null
	start_browser
	local t
	# six switches, each a chance to fall inside the page loads of 4 tabs
	for t in "$P2" "$P1" "$P2" "$P1" "$P2" "$P1"; do
		sleep 0.8
		switch_to deploy --target "127.0.0.1:$t" --drain 20s
	done
	sleep 0.5
	stop_browser
	echo "# control: $(grep '^pages=' "$PX_DIR/browser.out")" >&3
	echo "# $(grep '^browsed for' "$PX_DIR/browser.out")" >&3
	[ "$(report mixed)" -ge 1 ]
	[ "$(report failed)" = 0 ]
	[ "$(report versions)" = v1,v2 ]
}
