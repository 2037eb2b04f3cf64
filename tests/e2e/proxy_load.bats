#!/usr/bin/env bats
# The proxy under real load (wrk, 50 keep-alive connections) while it
# switches targets and while it is replaced by a new process.

load proxy_helpers

setup() {
	px_setup
	P1=$(free_port)
	P2=$(free_port)
	start_nginx_backends "$P1" "$P2"
	start_proxy
	px_deploy app "$P1" > /dev/null
}

teardown() {
	px_teardown
}

@test "100 deploys alternating two targets under wrk load: no socket error, no non-2xx" {
	start_wrk "$PX_DIR/wrk.out" 8
	sleep 1
	local start=$SECONDS i port
	for i in $(seq 100); do
		if [ $((i % 2)) = 1 ]; then port=$P2; else port=$P1; fi
		px_deploy app "$port" --drain 10s > "$PX_DIR/deploy.out" 2>&1 || {
			cat "$PX_DIR/deploy.out"
			false
		}
		grep -q "drained" "$PX_DIR/deploy.out"
	done
	echo "100 deploys in $((SECONDS - start))s" >&3
	# every deploy happened while wrk was running
	kill -0 "$WRK_PID"
	check_wrk "$PX_DIR/wrk.out" 20000
	# both targets served a real share of the load
	px status --json > "$PX_DIR/status.json"
	python3 - "$PX_DIR/status.json" <<-'PY'
	import json, sys
	s = json.load(open(sys.argv[1]))["services"][0]
	counts = [t["requests"]["2xx"] for t in s["targets"]]
	errors = sum(t["requests"]["4xx"] + t["requests"]["5xx"] for t in s["targets"])
	print(counts, errors)
	assert len(counts) == 2 and min(counts) > 1000, counts
	assert errors == 0
	PY
}

@test "upgrade (re-exec handover) under wrk load loses nothing, and routing survives" {
	px_deploy app "$P2" > /dev/null
	start_wrk "$PX_DIR/wrk.out" 6
	sleep 1.5
	local old=$PROXY_PID
	run px upgrade
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"handed over to pid"* ]]
	local new=${output##*handed over to pid }
	new=${new%%;*}
	# the old process finishes its connections and exits; the new one serves
	for i in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$old" 2>/dev/null || false
	kill -0 "$new"
	check_wrk "$PX_DIR/wrk.out" 5000
	[ "$(get /)" = v2 ]
	px status | grep -q "127.0.0.1:$P2 *active"
}

@test "a stopped and restarted proxy routes as before (state file)" {
	px_deploy app "$P2" > /dev/null
	grep -q "target app current 127.0.0.1:$P2" "$STATE"
	kill -TERM "$PROXY_PID"
	for i in $(seq 50); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$PROXY_PID" 2>/dev/null || false
	[ ! -e "$ADMIN" ]
	start_proxy
	[ "$(get /)" = v2 ]
	run px rollback app --health-interval 20ms --health-successes 1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(get /)" = v1 ]
}

@test "systemd socket activation: the proxy serves the inherited listening socket" {
	command -v systemd-socket-activate > /dev/null || skip "systemd-socket-activate is not installed"
	kill -TERM "$PROXY_PID"
	for i in $(seq 50); do kill -0 "$PROXY_PID" 2>/dev/null || break; sleep 0.1; done
	local port
	port=$(free_port)
	# --listen names a port nobody could bind twice: the proxy must not try
	px_spawn "$PX_DIR/proxy.log" systemd-socket-activate -l "127.0.0.1:$port" \
		"$CUTOVER" proxy run --listen 127.0.0.1:1 --admin "$ADMIN" --state "$STATE" > /dev/null
	wait_port "$port"
	PROXY_PORT=$port
	[ "$(get /)" = v1 ]
	grep -q "inherited socket" "$PX_DIR/proxy.log"
}
