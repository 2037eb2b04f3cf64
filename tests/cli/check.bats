#!/usr/bin/env bats
load helpers

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_http() { # serve $ROOT/current on a free port
	PORT=$(free_port)
	python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$ROOT/current" > /dev/null 2>&1 &
	HTTP_PID=$!
	for i in $(seq 50); do curl -s "http://127.0.0.1:$PORT/" > /dev/null && return; sleep 0.1; done
}

teardown() {
	[ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null
	cd /
	rm -rf "$T"
}

@test "a passing command check keeps the new release" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --check 'test -f "$CUTOVER_RELEASE_PATH/index.html"'
	[ "$status" -eq 0 ]
	[ -L "$ROOT/current" ]
}

@test "a failing command check switches back, removes the release and exits 4" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	run cutover deploy "$SRC" --to "$ROOT" --check 'exit 1' --check-retries 2 --check-interval 100ms
	[ "$status" -eq 4 ]
	[[ "$output" == *"failed 3 times"* ]]
	[ "$(current_id)" = "$before" ]
	[ "$(release_count)" -eq 1 ]
	run cutover log --to "$ROOT"
	[[ "$output" == *rolled-back* ]]
}

@test "a check that hangs is cut at its timeout" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	start=$SECONDS
	run cutover deploy "$SRC" --to "$ROOT" --check 'sleep 30' --check-timeout 500ms --check-retries 0
	[ "$status" -eq 4 ]
	[ $((SECONDS - start)) -lt 10 ]
}

@test "an HTTP check against the live site passes on 2xx" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	start_http
	run cutover deploy "$SRC" --to "$ROOT" --check "http://127.0.0.1:$PORT/index.html"
	[ "$status" -eq 0 ]
	[[ "$output" == *"passed"* ]]
}

@test "an HTTP check that gets 404 or no answer rolls back" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	start_http
	run cutover deploy "$SRC" --to "$ROOT" --check "http://127.0.0.1:$PORT/missing" --check-retries 1 --check-interval 100ms
	[ "$status" -eq 4 ]
	[[ "$output" == *"HTTP status 404"* ]]
	[ "$(current_id)" = "$before" ]
	port=$(free_port)
	run cutover deploy "$SRC" --to "$ROOT" --check "http://127.0.0.1:$port/" --check-retries 0
	[ "$status" -eq 4 ]
	[ "$(current_id)" = "$before" ]
}

@test "a failing check on the first deploy leaves no site, as before" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --check 'false' --check-retries 0
	[ "$status" -eq 4 ]
	[ ! -e "$ROOT/current" ]
	[ "$(release_count)" -eq 0 ]
}

@test "check from cutover.yml as a map" {
	cutover init "$ROOT"
	cat > cutover.yml <<YML
check:
  command: exit 7
  retries: 0
  timeout: 2s
YML
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 4 ]
	[[ "$output" == *"exit status 7"* ]]
}

@test "a check that passes on a retry leaves no error behind" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --check "test -e '$T/ok' || { touch '$T/ok'; sleep 5; }" --check-timeout 300ms --check-interval 100ms
	[ "$status" -eq 0 ]
	[[ "$output" == *"(timed out after 300 ms); retrying"* ]]
	[[ "$output" != *"error:"* ]]
	[[ "$output" == *"passed after retrying"* ]]
}

@test "check.url that is not a usable http URL is a usage error before anything changes, never a command" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	printf 'to: %s\ncheck:\n  url: touch %s/ran\n' "$ROOT" "$T" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cutover.yml':3:8: 'check.url' must be an http:// URL, not 'touch $T/ran'; a command goes in 'check.command'"* ]]
	[ ! -e "$T/ran" ]
	printf 'to: %s\ncheck:\n  url: http://127.0.0.1:99999/health\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":3:8: 'check.url' is not a URL the check can get: the port '99999' is not a number from 1 to 65535"* ]]
	printf 'to: %s\ncheck:\n  url: https://example.com/up\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"https is not supported: use a command check such as 'curl -fsS https://example.com/up'"* ]]
	printf 'to: %s\ncheck: ftp://127.0.0.1/up\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":2:8: 'check' is not a URL the check can get: only http:// URLs"* ]]
	printf 'to: %s\ncheck:\n  command: http://127.0.0.1/up\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":3:12: 'check.command' is a URL; write it as 'check.url'"* ]]
	printf 'to: %s\ncheck: [exit 0]\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":2:8: 'check' must be a URL, a command, or a mapping"* ]]
	[ "$(current_id)" = "$before" ]
	[ "$(release_count)" -eq 1 ]
}

@test "--check written as a URL must be a usable http URL (exit 2); commands stay commands" {
	cutover init "$ROOT"
	for bad in ftp://127.0.0.1/ htp://127.0.0.1/ http://127.0.0.1:0/ http://127.0.0.1:8x/ "http://user@127.0.0.1/"; do
		run cutover deploy "$SRC" --to "$ROOT" --check "$bad"
		[ "$status" -eq 2 ] || { echo "$bad: $output"; false; }
		[[ "$output" == *"check '$bad' is not a URL the check can get: "* ]]
	done
	[ ! -e "$ROOT/current" ]
	run cutover rollback --to "$ROOT" --check https://x/
	[ "$status" -eq 2 ]
	[[ "$output" == *"https is not supported"* ]]
	run cutover deploy "$SRC" --to "$ROOT" --check "echo 'http://not-a-url-here'"
	[ "$status" -eq 0 ]
}
