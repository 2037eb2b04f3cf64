#!/usr/bin/env bats
# Sticky deploys (--sticky): a page view under way finishes on the version
# it began on, a session moves to the new version at its next navigation,
# drains end by themselves, and a drain limit never cuts what can finish.

load proxy_helpers

BROWSER=$BATS_TEST_DIRNAME/lib/browser.py

setup() {
	px_setup
	P1=$(free_port)
	P2=$(free_port)
	start_backend "$P1" v1
	start_proxy
	px_deploy app "$P1" --health-path /up > /dev/null
}

teardown() {
	px_teardown
}

# One page view: a page and its assets, fetched with one cookie jar.
page_view() { # JAR COUNT
	local i
	for i in $(seq "$2"); do
		get / -b "$1" -c "$1"
	done | tr '\n' ' '
}

@test "sticky: a session that began on the old version stays on it while it drains; new sessions get the new one" {
	px_deploy app "$P1" --sticky > /dev/null
	start_backend "$P2" v2
	# a page view starts on v1 ...
	[ "$(page_view "$PX_DIR/a.jar" 1)" = "v1 " ]
	grep -q cutover_app "$PX_DIR/a.jar"
	px_spawn "$PX_DIR/deploy.out" "$CUTOVER" proxy deploy app --admin "$ADMIN" --target "127.0.0.1:$P2" \
		--health-interval 20ms --health-successes 1 --sticky --sticky-idle 1500ms --drain 20s > /dev/null
	for i in $(seq 50); do grep -q switched "$PX_DIR/deploy.out" && break; sleep 0.1; done
	grep -q switched "$PX_DIR/deploy.out"
	# ... and ends on v1 although the switch happened in the middle
	[ "$(page_view "$PX_DIR/a.jar" 5)" = "v1 v1 v1 v1 v1 " ]
	# a new session is served by v2 only
	[ "$(page_view "$PX_DIR/b.jar" 5)" = "v2 v2 v2 v2 v2 " ]
	# once the old sessions are idle the drain ends and they move over
	for i in $(seq 60); do grep -q drained "$PX_DIR/deploy.out" && break; sleep 0.1; done
	grep -q drained "$PX_DIR/deploy.out"
	[ "$(page_view "$PX_DIR/a.jar" 2)" = "v2 v2 " ]
}

@test "without --sticky the same page view mixes versions (the control for the sticky test)" {
	start_backend "$P2" v2
	[ "$(page_view "$PX_DIR/a.jar" 1)" = "v1 " ]
	px_deploy app "$P2" > /dev/null
	[ "$(page_view "$PX_DIR/a.jar" 2)" = "v2 v2 " ]
}

@test "concurrent sessions across a sticky switch: zero mixed page views" {
	px_deploy app "$P1" --sticky > /dev/null
	start_backend "$P2" v2
	local s pids=()
	for s in $(seq 12); do
		( sleep "0.$((s * 7 % 10))"; for i in 1 2 3 4 5 6; do get / -b "$PX_DIR/s$s.jar" -c "$PX_DIR/s$s.jar"; sleep 0.15; done ) \
			> "$PX_DIR/s$s.view" &
		pids+=($!)
	done
	sleep 0.6
	px_deploy app "$P2" --sticky --sticky-idle 1s --drain 20s > "$PX_DIR/deploy.out"
	wait "${pids[@]}"
	cat "$PX_DIR"/s*.view | sort | uniq -c
	local mixed=0 spans=0
	for s in $(seq 12); do
		[ "$(sort -u "$PX_DIR/s$s.view" | wc -l)" = 1 ] || mixed=$((mixed + 1))
		grep -q v1 "$PX_DIR/s$s.view" && spans=$((spans + 1))
	done
	echo "mixed=$mixed sessions-on-v1=$spans"
	[ "$mixed" = 0 ]
	# the deploy really happened in the middle: some sessions stayed on v1
	[ "$spans" -ge 1 ]
	[ "$(get /)" = v2 ]
}

# Four Chromium-like tabs and one curl-like client load pages (12 assets,
# 20-50 ms each) without a pause until $PX_DIR/stop exists.
start_browsers() {
	px_spawn "$PX_DIR/browsers.out" python3 "$BROWSER" "$PROXY_PORT" --clients 4 --stop-file "$PX_DIR/stop" \
		--max-seconds 60 > /dev/null
	px_spawn "$PX_DIR/curl-like.out" python3 "$BROWSER" "$PROXY_PORT" --clients 1 --curl-like \
		--stop-file "$PX_DIR/stop" --max-seconds 60 > /dev/null
	sleep 1
}

# Stop the clients and wait for their one-line reports.
stop_browsers() {
	touch "$PX_DIR/stop"
	local i
	for i in $(seq 100); do
		grep -q '^pages=' "$PX_DIR/browsers.out" && grep -q '^pages=' "$PX_DIR/curl-like.out" && break
		sleep 0.1
	done
	grep '^pages=' "$PX_DIR/browsers.out" "$PX_DIR/curl-like.out"
}

report() { # FILE KEY: a number from a client's report line
	grep '^pages=' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# A deploy (or rollback) to TARGET, sticky or not; prints its output and how long the drain took.
switch_to() { # deploy|rollback [--target ADDR] OPTIONS...
	local what=$1
	shift
	px "$what" app --health-interval 20ms --health-successes 1 "$@"
}

@test "sticky under browser-like traffic: deploys and back fail no request, mix no page view, and every drain ends by itself" {
	px_deploy app "$P1" --sticky > /dev/null
	start_backend "$P2" v2
	start_browsers
	local t out secs
	for t in "$P2" "$P1" "$P2" "$P1"; do
		out=$(switch_to deploy --target "127.0.0.1:$t" --sticky --sticky-idle 1s --drain 20s)
		echo "$out"
		# ended because the old sessions moved on, not at the 20 s limit
		[[ $out == *"drained '127.0.0.1:"*"': 0 requests in flight after "* ]]
		[[ $out != *"drain timeout"* ]]
		secs=$(sed -n 's/.*in flight after \([0-9.]*\)s$/\1/p' <<< "$out")
		# the idle second plus about one page view
		awk -v s="$secs" 'BEGIN { exit !(s < 4) }'
		sleep 0.5
	done
	out=$(switch_to rollback --sticky --sticky-idle 1s --drain 20s)
	echo "$out"
	[[ $out == *"drained"*"in flight after"* ]]
	[[ $out != *"drain timeout"* ]]
	sleep 0.5
	stop_browsers
	for f in browsers curl-like; do
		cat "$PX_DIR/$f.out"
		[ "$(report "$PX_DIR/$f.out" failed)" = 0 ]
		[ "$(report "$PX_DIR/$f.out" mixed)" = 0 ]
		[ "$(report "$PX_DIR/$f.out" versions)" = v1,v2 ]
	done
	[ "$(report "$PX_DIR/browsers.out" pages)" -ge 40 ]
	[ "$(report "$PX_DIR/curl-like.out" pages)" -ge 10 ]
	# nothing was cut, and the proxy counted no failure
	px status --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["services"][0]["targets"]:
    assert t["cut"] == 0 and t["requests"]["5xx"] == 0, t'
}

@test "without --sticky the same traffic mixes page views (the control: the harness sees them) and fails nothing" {
	start_backend "$P2" v2
	start_browsers
	local t
	for t in "$P2" "$P1" "$P2" "$P1" "$P2" "$P1"; do
		switch_to deploy --target "127.0.0.1:$t" --drain 20s
		sleep 0.4
	done
	stop_browsers
	local mixed
	mixed=$(($(report "$PX_DIR/browsers.out" mixed) + $(report "$PX_DIR/curl-like.out" mixed)))
	echo "mixed page views: $mixed"
	[ "$mixed" -ge 1 ]
	[ "$(report "$PX_DIR/browsers.out" failed)" = 0 ]
	[ "$(report "$PX_DIR/curl-like.out" failed)" = 0 ]
}

@test "a sticky drain at its limit moves old sessions over and lets requests in flight finish; tunnels are cut then" {
	px_deploy app "$P1" --sticky > /dev/null
	start_backend "$P2" v2
	get / -c "$PX_DIR/old.jar" > /dev/null
	px_spawn "$PX_DIR/ws.out" python3 "$BATS_TEST_DIRNAME/proxy_ws.py" "$PROXY_PORT" 8 200 > /dev/null
	for i in $(seq 50); do grep -q "v1:msg1" "$PX_DIR/ws.out" && break; sleep 0.1; done
	# an old session that never navigates: it keeps the old version busy past the limit
	( for i in $(seq 12); do
		code=$(curl -sS --max-time 10 -b "$PX_DIR/old.jar" -o "$PX_DIR/one" -w '%{http_code}' \
			"http://127.0.0.1:$PROXY_PORT/slow?ms=300")
		echo "$(cat "$PX_DIR/one") $code"
	done ) > "$PX_DIR/old.out" &
	local loop=$!
	sleep 0.2
	run switch_to deploy --target "127.0.0.1:$P2" --sticky --sticky-idle 1s --drain 1s --drain-grace 3s
	echo "$output"
	[ "$status" -eq 0 ]
	# the loop's request is in flight at the limit unless a slow machine is between two of them
	[[ $output =~ "drain timeout after 1.0s: old sessions now go to '127.0.0.1:$P2'; "[01]" request(s) in flight" ]]
	[[ $output == *"warning: cut 1 tunnel(s) still open on '127.0.0.1:$P1'"* ]]
	[[ $output =~ "drained '127.0.0.1:$P1': "[01]" request(s) finished in the grace" ]]
	[[ $output != *"cut 1 request"* ]]
	wait "$loop"
	cat "$PX_DIR/old.out"
	# every request was answered; v1 answered until the limit, v2 after it, never back
	[ "$(grep -c ' 200$' "$PX_DIR/old.out")" = 12 ]
	[ "$(cut -d' ' -f1 "$PX_DIR/old.out" | uniq | tr '\n' ' ')" = "v1 v2 " ]
	for i in $(seq 50); do grep -q "closed after" "$PX_DIR/ws.out" && break; sleep 0.1; done
	grep -q "closed after" "$PX_DIR/ws.out"
}

@test "what outlives the drain grace is cut and counted as cut, never as answered" {
	px_deploy app "$P1" --sticky > /dev/null
	start_backend "$P2" v2
	get / -c "$PX_DIR/old.jar" > /dev/null
	local ok2xx
	ok2xx=$(px status --json | python3 -c 'import json,sys; print([t for t in json.load(sys.stdin)["services"][0]["targets"] if t["address"].endswith(":'"$P1"'")][0]["requests"]["2xx"])')
	# its status line and first byte go out at once, the rest after 5 s
	curl -sS --max-time 10 -b "$PX_DIR/old.jar" -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$PROXY_PORT/stream?ms=5000" > "$PX_DIR/stream.code" 2> "$PX_DIR/stream.err" &
	local c=$!
	sleep 0.3
	run switch_to deploy --target "127.0.0.1:$P2" --sticky --drain 500ms --drain-grace 500ms
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"warning: drain grace of 0.5s over: cut 1 request(s) or tunnel(s) still open on '127.0.0.1:$P1'"* ]]
	! wait "$c"
	cat "$PX_DIR/stream.err"
	px status
	px status | grep -E "^  127.0.0.1:$P1 +standby .* 1 +[0-9.]+$"
	px status --json | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin)["services"][0]["targets"] if t["address"].endswith(":'"$P1"'")][0]
assert t["cut"] == 1 and t["requests"]["2xx"] == '"$ok2xx"', t'
	px metrics | grep -q "cutover_drain_cut_total{service=\"app\",target=\"127.0.0.1:$P1\"} 1"
}
