#!/usr/bin/env bats
# The proxy at its limits: out of file descriptors, hostile admin input,
# an admin path that is not ours, deploys that fail.

load proxy_helpers

setup() {
	px_setup
	P1=$(free_port)
	start_backend "$P1" v1
}

teardown() {
	px_teardown
}

# Run proxy_fdlimit.py against the proxy (EXTRA idle connections held for
# 2 s) and set the variables it reports (a_before, cpu_ticks, ...).
fd_scenario() { # EXTRA
	run python3 "$BATS_TEST_DIRNAME/proxy_fdlimit.py" "$PROXY_PORT" "$PROXY_PID" "$PX_DIR/proxy.log" "$1" 2
	echo "$output"
	[ "$status" = 0 ]
	local line
	for line in "${lines[@]}"; do
		[[ $line == *=* ]] && printf -v "${line%%=*}" '%s' "${line#*=}"
	done
	true
}

@test "at the descriptor limit: connections wait, no log flood, no spinning, open connections served, new ones after" {
	PROXY_WRAP="prlimit --nofile=64:64" start_proxy
	px_deploy app "$P1" > /dev/null
	fd_scenario 100
	head -n 20 "$PX_DIR/proxy.log"
	[ "$a_before" = 200 ]
	[ "$log_lines" -lt 20 ]
	# 2 s of an idle loop, not 2 s of CPU (200 ticks when it spun)
	[ "$cpu_ticks" -lt 20 ]
	# the limit comes from the descriptors: 2 per connection after a reserve
	px metrics | grep -x 'cutover_max_connections 16'
	[ "$a_during" = 200 ]
	[ "$b_during" = 200 ]
	[ "$a_slow" = 200 ]
	[ "$after" = 200 ]
	grep -q "connection limit reached (16 client connections" "$PX_DIR/proxy.log"
}

@test "out of descriptors with a larger --max-connections: accept backs off, a new upstream connect gets 503" {
	PROXY_WRAP="prlimit --nofile=64:64" start_proxy --max-connections 1000
	px_deploy app "$P1" > /dev/null
	fd_scenario 100
	head -n 20 "$PX_DIR/proxy.log"
	grep -q "warning: --max-connections 1000 needs 2032 descriptors, the limit is 64" "$PX_DIR/proxy.log"
	[ "$a_before" = 200 ]
	[ "$log_lines" -lt 20 ]
	[ "$cpu_ticks" -lt 20 ]
	# A reuses its pooled upstream connection; B needs a new one and there is no descriptor for it
	[ "$a_during" = 200 ]
	[ "$b_during" = 503 ]
	[ "$a_slow" = 200 ]
	[ "$after" = 200 ]
	grep -q "cannot accept connections: Too many open files (descriptor limit 64" "$PX_DIR/proxy.log"
	grep -q "cannot connect to upstream '127.0.0.1:$P1': Too many open files (descriptor limit 64, .*); requests that need a new connection get 503" "$PX_DIR/proxy.log"
	run px metrics
	[[ $output =~ cutover_descriptor_shortages_total\ [1-9] ]]
	[[ $output == *'cutover_refused_total{code="5xx"} 1'* ]]
	[ "$(get /)" = v1 ]
}
