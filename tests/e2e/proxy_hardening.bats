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

# `proxy run` in the foreground with a short life: its exit status and output.
run_proxy_briefly() { # ADMIN_PATH
	run timeout 5 "$CUTOVER" proxy run --listen "127.0.0.1:$(free_port)" --admin "$1" --state "$PX_DIR/other.state"
	echo "$output"
}

@test "proxy run --admin refuses to replace a regular file or a directory (exit 2) and leaves it alone" {
	echo keep > "$PX_DIR/file"
	run_proxy_briefly "$PX_DIR/file"
	[ "$status" = 2 ]
	[[ $output == *"error: admin socket path '$PX_DIR/file' is a regular file, not a socket: refusing to replace it"* ]]
	[ "$(cat "$PX_DIR/file")" = keep ]
	mkdir "$PX_DIR/dir"
	run_proxy_briefly "$PX_DIR/dir"
	[ "$status" = 2 ]
	[[ $output == *"error: admin socket path '$PX_DIR/dir' is a directory, not a socket: refusing to replace it"* ]]
	[ -d "$PX_DIR/dir" ]
	ln -s "$PX_DIR/file" "$PX_DIR/link"
	run_proxy_briefly "$PX_DIR/link"
	[ "$status" = 2 ]
	[[ $output == *"is a symbolic link, not a socket"* ]]
	[ "$(cat "$PX_DIR/file")" = keep ]
}

@test "proxy run --admin refuses the live socket of another proxy (exit 1) and replaces a stale one" {
	start_proxy
	px_deploy app "$P1" > /dev/null
	run_proxy_briefly "$ADMIN"
	[ "$status" = 1 ]
	[[ $output == *"error: another proxy answers on admin socket '$ADMIN': stop it or give another --admin path"* ]]
	# the first proxy still owns its socket
	[ -S "$ADMIN" ]
	px status app | grep -q active
	[ "$(get /)" = v1 ]
	# a socket nobody listens on (its proxy died) is replaced
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$PX_DIR/stale.sock"
	[ -S "$PX_DIR/stale.sock" ]
	PX_STALE_PID=$(px_spawn "$PX_DIR/stale-proxy.log" "$CUTOVER" proxy run --listen "127.0.0.1:$(free_port)" \
		--admin "$PX_DIR/stale.sock" --state "$PX_DIR/other.state")
	local i
	for i in $(seq 100); do
		"$CUTOVER" proxy status --admin "$PX_DIR/stale.sock" > /dev/null 2>&1 && break
		sleep 0.05
	done
	"$CUTOVER" proxy status --admin "$PX_DIR/stale.sock"
}

admin_post() { # PATH?QUERY: the admin API's answer body
	curl -sS --unix-socket "$ADMIN" -X POST "http://x$1"
}

@test "hostile values from the command line and the admin API are refused; the state file stays readable across a restart" {
	start_proxy
	px_deploy app "$P1" --host app.example --default > /dev/null
	run px deploy app --target "127.0.0.1:$P1" --host $'evil\r\nservice x'
	echo "$output"
	[ "$status" = 2 ]
	[[ $output == *"error: invalid host name 'evil\\x0d\\x0aservice x'"* ]]
	run px deploy app --target "127.0.0.1:$P1" --health-path $'/up\r\nX: y'
	[ "$status" = 2 ]
	[[ $output == *"invalid health path '/up\\x0d\\x0aX: y'"* ]]
	run px deploy app --target "127.0.0.1:$P1" --health-successes 0
	[ "$status" = 2 ]
	[[ $output == *"'successes' must be a number from 1 to 1000, not '0'"* ]]
	local q
	for q in "service=app&target=127.0.0.1:$P1&hosts=a%0D%0Ab" "service=a%0Ab&target=127.0.0.1:$P1" \
		"service=app&target=127.0.0.1%0A:$P1" "service=app&target=127.0.0.1:$P1&health_path=/a%20b" \
		"service=app&target=127.0.0.1:$P1&sticky=yes" "service=app&target=127.0.0.1:$P1&default=true" \
		"service=app&target=127.0.0.1:$P1&successes=0" "service=app&target=127.0.0.1:$P1&hosts=a%2" \
		"service=app&target=127.0.0.1:$P1&interval=0" "service=app&target=127.0.0.1:$P1&drain=forever" \
		"service=app&target=127.0.0.1:$P1&hosts=a,,b" "service=app&target=127.0.0.1:$P1&colour=blue" \
		"service=x%0Aexit:%200&target=127.0.0.1:$P1"; do
		run admin_post "/deploy?$q"
		echo "$q: $output"
		[ "${lines[0]:0:7}" = "error: " ]
		[ "${lines[1]}" = "exit: 2" ]
		[ "${#lines[@]}" = 2 ]
	done
	run admin_post "/pause?service=app&max=0"
	[ "${lines[1]}" = "exit: 2" ]
	run admin_post "/rollback?service=app&sticky=2"
	[ "${lines[1]}" = "exit: 2" ]
	cat "$STATE"
	! grep -q evil "$STATE"
	[ "$(wc -l < "$STATE")" = 3 ]
	# a restarted proxy reads the file and routes as before
	kill -TERM "$PROXY_PID"
	local i
	for i in $(seq 100); do
		kill -0 "$PROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$ADMIN"
	start_proxy
	[ "$(get / -H 'Host: app.example')" = v1 ]
	[ "$(get /)" = v1 ]
}

@test "errors name the real cause: an unresolvable target, an unknown service on rollback, a long service name" {
	start_proxy
	run px deploy app --target nosuchhost.invalid:80
	echo "$output"
	[ "$status" = 1 ]
	[[ $output == *"error: cannot resolve 'nosuchhost.invalid' (target 'nosuchhost.invalid:80'): "* ]]
	run px rollback nosuch
	echo "$output"
	[ "$status" = 1 ]
	[[ $output == *"error: no service 'nosuch'"* ]]
	local long=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
	run px deploy "$long" --target "127.0.0.1:$P1"
	echo "$output"
	[ "$status" = 2 ]
	[[ $output == *"error: service name '$long' is too long (65 characters, at most 64)"* ]]
	run admin_post "/deploy?service=$long&target=127.0.0.1:$P1"
	[[ $output == *"error: service name '$long' is too long (65 characters, at most 64)"* ]]
	run px status "$long"
	[ "$status" = 2 ]
	# none of that left a service behind
	run px status
	[[ $output == "no services yet"* ]]
	px_deploy app "$P1" > /dev/null
	run px rollback app
	[ "$status" = 1 ]
	[[ $output == *"error: service 'app' has no previous target to roll back to"* ]]
}

@test "a target at the proxy's own listening address is refused: it would loop" {
	start_proxy
	px_deploy app "$P1" > /dev/null
	local t
	for t in "127.0.0.1:$PROXY_PORT" "localhost:$PROXY_PORT" "0.0.0.0:$PROXY_PORT"; do
		run px deploy app --target "$t" --health-interval 20ms --health-successes 1
		echo "$output"
		[ "$status" = 2 ]
		[[ $output == *"error: target '$t' is this proxy's own listening address: requests would loop"* ]]
	done
	[ "$(get /)" = v1 ]
	px status app | grep -q "127.0.0.1:$P1 *active"
	! px status app | grep -q ":$PROXY_PORT"
}

@test "a failed deploy leaves nothing behind: no standby target, no new service, no new hosts or default" {
	start_proxy
	px_deploy app "$P1" > /dev/null
	local dead
	dead=$(free_port)
	run px_deploy app "$dead" --health-deadline 300ms --host other.example
	echo "$output"
	[ "$status" = 1 ]
	[[ $output == *"did not become healthy"*"'127.0.0.1:$P1' still serves 'app'"* ]]
	run px status app --json
	echo "$output"
	[[ $output != *"$dead"* ]]
	[[ $output != *other.example* ]]
	# a first deploy that fails: its --host and --default never take traffic, the service goes
	run px_deploy shop "$dead" --health-deadline 300ms --host shop.example --default
	echo "$output"
	[ "$status" = 1 ]
	[[ $output == *"'shop' is not served yet"* ]]
	[ "$(get / -H 'Host: shop.example')" = v1 ]
	[ "$(get / -H 'Host: anything.example')" = v1 ]
	run px status
	echo "$output"
	[[ $output != *shop* ]]
	[[ $output != *"$dead"* ]]
	# a later switch writes the state file: still nothing of the failed deploys in it
	px_deploy app "$P1" > /dev/null
	cat "$STATE"
	! grep -q "$dead" "$STATE"
	! grep -q shop "$STATE"
	! grep -q other.example "$STATE"
	# the service is free for a deploy that works
	px_deploy shop "$P1" --host shop.example > /dev/null
	[ "$(get / -H 'Host: shop.example')" = v1 ]
}
