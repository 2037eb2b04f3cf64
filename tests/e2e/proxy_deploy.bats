#!/usr/bin/env bats
# What a deploy through the proxy promises: health first, in-flight work
# finishes, WebSockets live until the drain timeout (sticky sessions:
# proxy_sticky.bats).

load proxy_helpers

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

@test "a slow request in flight during a deploy completes, and the deploy waits for it" {
	start_backend "$P2" v2
	curl -sS --max-time 10 -o "$PX_DIR/slow.out" -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/slow?ms=2500" \
		> "$PX_DIR/slow.code" &
	local curl_pid=$!
	sleep 0.5
	local start=$SECONDS
	run px_deploy app "$P2" --health-path /up --drain 20s
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"switched 'app' to '127.0.0.1:$P2'"* ]]
	[[ $output == *"drained '127.0.0.1:$P1': 0 requests in flight"* ]]
	# it returned only after the slow request was done (about 2 s later)
	[ $((SECONDS - start)) -ge 1 ]
	wait "$curl_pid"
	[ "$(cat "$PX_DIR/slow.code")" = 200 ]
	[ "$(cat "$PX_DIR/slow.out")" = v1 ]
	[ "$(get /)" = v2 ]
}

@test "a WebSocket opened before a deploy keeps working until the drain timeout, then is cut" {
	start_backend "$P2" v2
	px_spawn "$PX_DIR/ws.out" python3 "$BATS_TEST_DIRNAME/proxy_ws.py" "$PROXY_PORT" 8 200 > /dev/null
	for i in $(seq 50); do grep -q "v1:msg1" "$PX_DIR/ws.out" && break; sleep 0.1; done
	run px_deploy app "$P2" --health-path /up --drain 2s
	echo "$output"
	cat "$PX_DIR/ws.out"
	[ "$status" -eq 0 ]
	[[ $output == *"cut 1 request(s) or tunnel(s) still open on '127.0.0.1:$P1'"* ]]
	for i in $(seq 50); do grep -q "closed after" "$PX_DIR/ws.out" && break; sleep 0.1; done
	# replies kept coming from v1 after the switch, for most of the 2 s drain
	local n
	n=$(grep -c " v1:msg" "$PX_DIR/ws.out")
	[ "$n" -ge 8 ]
	! grep -q " v2:" "$PX_DIR/ws.out" || false
	grep -q "closed after" "$PX_DIR/ws.out"
	# new WebSockets go to the new version
	run python3 "$BATS_TEST_DIRNAME/proxy_ws.py" "$PROXY_PORT" 0.3 100
	[[ $output == *"v2:msg1"* ]]
}

@test "a target that never becomes healthy is never switched to; the old one keeps serving" {
	start_backend "$P2" v2 --unhealthy
	# under steady traffic, every answer must come from v1
	( for i in $(seq 60); do get / ; sleep 0.03; done ) > "$PX_DIR/answers.out" &
	local loop=$!
	run px_deploy app "$P2" --health-path /up --health-deadline 1s
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"did not become healthy"*"GET /up answered 503"* ]]
	[[ $output == *"'127.0.0.1:$P1' still serves 'app'"* ]]
	wait "$loop"
	[ "$(sort -u "$PX_DIR/answers.out")" = v1 ]
	# nothing listening at all: same
	run px_deploy app "$(free_port)" --health-deadline 500ms
	[ "$status" -eq 1 ]
	[[ $output == *"cannot connect"* ]]
	[ "$(get /)" = v1 ]
	px status --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; assert s["current"].endswith(":'"$P1"'"), s'
}

@test "pause holds new requests until resume; --max lets them go on its own" {
	px pause app --max 5s
	local start=$SECONDS
	curl -sS --max-time 10 "http://127.0.0.1:$PROXY_PORT/" > "$PX_DIR/held.out" &
	local c=$!
	sleep 1
	# still waiting
	kill -0 "$c"
	[ ! -s "$PX_DIR/held.out" ]
	px status | grep -q PAUSED
	px resume app
	wait "$c"
	[ "$(cat "$PX_DIR/held.out")" = v1 ]
	px pause app --max 600ms
	[ "$(get /)" = v1 ]
	run px pause nosuch
	[ "$status" -eq 1 ]
	[[ $output == *"no service 'nosuch'"* ]]
}

@test "rollback goes back to the previous target; a second deploy at once is refused as locked" {
	start_backend "$P2" v2
	px_deploy app "$P2" --health-path /up > /dev/null
	[ "$(get /)" = v2 ]
	# a long drain keeps the next deploy busy
	curl -sS --max-time 10 "http://127.0.0.1:$PROXY_PORT/slow?ms=1500" > /dev/null &
	local slow=$!
	sleep 0.3
	px_spawn "$PX_DIR/rb.out" "$CUTOVER" proxy rollback app --admin "$ADMIN" --health-interval 20ms \
		--health-successes 1 > /dev/null
	for i in $(seq 50); do grep -q switched "$PX_DIR/rb.out" && break; sleep 0.1; done
	run px_deploy app "$P2"
	[ "$status" -eq 3 ]
	[[ $output == *"already in progress"* ]]
	wait "$slow"
	for i in $(seq 50); do grep -q "exit\|drained" "$PX_DIR/rb.out" && break; sleep 0.1; done
	grep -q drained "$PX_DIR/rb.out"
	[ "$(get /)" = v1 ]
}
