#!/usr/bin/env bats
# HTTP/1.1 through the proxy: framing both ways, strictness, timeouts, and
# the admin endpoints. Every refusal is followed by a request that must
# still be served.

load proxy_helpers

setup() {
	px_setup
	P1=$(free_port)
	start_backend "$P1" v1 --log-requests
	start_proxy --header-timeout 1s --upstream-timeout 1500ms
	px_deploy app "$P1" --health-path /up > /dev/null
}

teardown() {
	px_teardown
}

raw() { # BYTES (printf format) [proxy_raw.py options]
	local fmt=$1
	shift
	printf "$fmt" | python3 "$BATS_TEST_DIRNAME/proxy_raw.py" "$PROXY_PORT" "$@"
}

still_serving() {
	[ "$(get /)" = v1 ]
}

@test "keep-alive: pipelined and sequential requests on one connection" {
	run raw 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /chunked HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
	echo "$output"
	[ "$output" = "$(printf 'HTTP/1.1 200 OK\nHTTP/1.1 200 OK\nHTTP/1.1 200 OK\nHTTP/1.1 200 OK\nclosed')" ]
	# curl reuses the connection for the second URL
	run curl -sS -v "http://127.0.0.1:$PROXY_PORT/" "http://127.0.0.1:$PROXY_PORT/"
	[[ $output == *"Re-using existing connection"* ]] || [[ $output == *"Reusing existing connection"* ]]
}

@test "bodies stream both ways: Content-Length, chunked, and a 2 MB upload" {
	[ "$(get /echo -d hello)" = hello ]
	[ "$(printf 'abc' | get /echo -H 'Transfer-Encoding: chunked' --data-binary @-)" = abc ]
	[ "$(get /chunked)" = "v1-part2-end" ]
	head -c 2000000 /dev/urandom > "$PX_DIR/big"
	get /echo --data-binary @"$PX_DIR/big" -H 'Expect:' > "$PX_DIR/big.back"
	cmp "$PX_DIR/big" "$PX_DIR/big.back"
	# chunked upload of the same
	get /echo --data-binary @"$PX_DIR/big" -H 'Transfer-Encoding: chunked' > "$PX_DIR/big.back2"
	cmp "$PX_DIR/big" "$PX_DIR/big.back2"
}

@test "trailer fields of chunked bodies are passed on both ways, framing fields in them are not" {
	run curl -sS --raw "http://127.0.0.1:$PROXY_PORT/trailers"
	[ "$output" = "$(printf '3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r')" ]
	run python3 - "$PROXY_PORT" <<-'PY'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"POST /trailers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	          b"2\r\nhi\r\n0\r\nX-Sum: 7\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n\r\n")
	data = b""
	while True:
	    d = s.recv(4096)
	    if not d:
	        break
	    data += d
	print(data.split(b"\r\n\r\n", 1)[1].decode(), end="")
	PY
	[ "$output" = "X-Sum: 7" ]
	still_serving
}

@test "Expect: 100-continue is relayed" {
	run curl -sS -v --max-time 5 -H 'Expect: 100-continue' --data-binary @/etc/services \
		"http://127.0.0.1:$PROXY_PORT/echo" -o "$PX_DIR/echo.out"
	echo "$output" | grep -E "^[<>] (HTTP|Expect)"
	[[ $output == *"< HTTP/1.1 100 Continue"* ]]
	cmp /etc/services "$PX_DIR/echo.out"
}

@test "X-Forwarded-For, -Proto and -Host are set; hop-by-hop headers are dropped" {
	run get /headers -H 'Host: shop.example' -H 'X-Forwarded-For: 10.1.2.3' -H 'X-Forwarded-Proto: https' \
		-H 'Connection: keep-alive, X-Private' -H 'X-Private: secret'
	echo "$output"
	[[ $output == *"X-Forwarded-For: 10.1.2.3, 127.0.0.1"* ]]
	[[ $output == *"X-Forwarded-Proto: http"* ]]
	[[ $output != *"https"* ]]
	[[ $output == *"X-Forwarded-Host: shop.example"* ]]
	[[ $output != *"secret"* ]]
}

@test "request smuggling attempts get 400 and the proxy keeps serving" {
	run raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n'
	[[ $output == "HTTP/1.1 501 Not Implemented"*closed ]]
	run raw 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	# HTTP/1.0 has no chunked framing (RFC 9112 6.1)
	run raw 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\nGET /admin HTTP/1.0\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	still_serving
}

@test "Connection cannot take a framing or routing field off a message, either way (no smuggling)" {
	local inner='GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n' len
	len=$(printf "$inner" | wc -c)
	# the body must reach the upstream as this request's body, never as a request of its own
	run raw "POST /echo HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: $len\r\n\r\n$inner"
	echo "$output"
	[[ $output == "HTTP/1.1 200 OK"* ]]
	run raw "POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close, content-length, host\r\nContent-Length: $len\r\n\r\n$inner"
	[[ $output == "HTTP/1.1 200 OK"* ]]
	# a chunked body the same way
	run raw "POST /echo HTTP/1.1\r\nHost: a\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n$(printf '%x' "$len")\r\n$inner\r\n0\r\n\r\n"
	[[ $output == "HTTP/1.1 200 OK"* ]]
	[ "$(get /echo -H 'Connection: Content-Length' --data-binary 'GET /smuggled HTTP/1.1')" = "GET /smuggled HTTP/1.1" ]
	for i in 1 2 3 4 5; do still_serving; done
	cat "$PX_DIR/backend-$P1.log"
	grep -q '^served POST /echo' "$PX_DIR/backend-$P1.log"
	run grep -c smuggled "$PX_DIR/backend-$P1.log"
	[ "$output" = 0 ]
	# Host stays: the upstream routes by it
	[[ "$(get /headers -H 'Connection: Host' -H 'Host: shop.example')" == *"Host: shop.example"* ]]
	# response: an upstream that names Content-Length in Connection still frames its body for the client
	run curl -sS --max-time 5 "http://127.0.0.1:$PROXY_PORT/conn-listed" "http://127.0.0.1:$PROXY_PORT/"
	[ "$output" = "$(printf 'abcv1')" ]
	run raw 'GET /conn-listed HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 200 OK\nHTTP/1.1 200 OK\nclosed')" ]
}

@test "malformed requests get 400, oversized heads 431, and the proxy keeps serving" {
	run raw 'GARBAGE\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw 'GET / HTTP/1.1\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 400 Bad Request\nclosed')" ]
	run raw "GET / HTTP/1.1\r\nHost: a\r\nX-Big: $(head -c 20000 /dev/zero | tr '\0' x)\r\n\r\n"
	[ "$output" = "$(printf 'HTTP/1.1 431 Request Header Fields Too Large\nclosed')" ]
	local many
	many=$(for i in $(seq 120); do printf 'X-H%d: v\\r\\n' "$i"; done)
	run raw "GET / HTTP/1.1\r\nHost: a\r\n$many\r\n"
	[ "$output" = "$(printf 'HTTP/1.1 431 Request Header Fields Too Large\nclosed')" ]
	run raw 'GET / HTTP/1.1\r\nHost: a\r\n\r\n\x00\x01\x02 junk after a good request\r\n\r\n'
	[ "$output" = "$(printf 'HTTP/1.1 200 OK\nHTTP/1.1 400 Bad Request\nclosed')" ]
	still_serving
	px metrics | grep -q 'cutover_refused_total{code="4xx"} [1-9]'
}

@test "a slowloris client gets 408 at the header timeout; others are served meanwhile" {
	printf 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' |
		python3 "$BATS_TEST_DIRNAME/proxy_raw.py" "$PROXY_PORT" --slow 0.1 --timeout 3 > "$PX_DIR/slow.out" &
	local slow=$!
	sleep 0.3
	still_serving
	wait "$slow"
	cat "$PX_DIR/slow.out"
	[ "$(head -1 "$PX_DIR/slow.out")" = "HTTP/1.1 408 Request Timeout" ]
	still_serving
}

@test "upstream failures: 502 when it refuses, 504 when it is too slow" {
	run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/slow?ms=3000"
	[ "$output" = 504 ]
	px status --json | grep -q '"5xx":1'
	# the backend goes away: 502, not a hang
	kill -TERM -- "-$(head -1 "$PX_DIR/pgids")"
	sleep 0.3
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/"
	[ "$output" = 502 ]
	# and it serves again once the backend is back
	start_backend "$P1" v1
	still_serving
}

@test "Host picks the service; others go to the default service" {
	local P2
	P2=$(free_port)
	start_backend "$P2" shop
	px_deploy shop "$P2" --host shop.example --host www.shop.example > /dev/null
	[ "$(get / -H 'Host: shop.example')" = shop ]
	[ "$(get / -H 'Host: WWW.Shop.Example:8080')" = shop ]
	[ "$(get / -H 'Host: other.example')" = v1 ]
	[ "$(get /)" = v1 ]
}

@test "status and metrics: per target request counts, latency histogram, in-flight, health" {
	for i in 1 2 3; do get / > /dev/null; done
	run px status app
	echo "$output"
	[[ $output == *"127.0.0.1:$P1"*active*healthy* ]]
	run px status --json
	echo "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"][0]
t = s["targets"][0]
assert s["name"] == "app" and s["default"] is True
assert t["state"] == "active" and t["health"] == "healthy", t
assert t["requests"]["2xx"] >= 3 and t["latency_ms"]["count"] >= 3, t
assert "in_flight" in t
'
	curl -sS --unix-socket "$ADMIN" http://x/metrics > "$PX_DIR/metrics.out"
	grep -q "^cutover_requests_total{service=\"app\",target=\"127.0.0.1:$P1\",code=\"2xx\"} [3-9]" "$PX_DIR/metrics.out"
	grep -q "^cutover_request_duration_seconds_bucket{service=\"app\",target=\"127.0.0.1:$P1\",le=\"+Inf\"} [3-9]" "$PX_DIR/metrics.out"
	grep -q "^cutover_inflight{service=\"app\",target=\"127.0.0.1:$P1\"} 0" "$PX_DIR/metrics.out"
	grep -q "^cutover_target_healthy{service=\"app\",target=\"127.0.0.1:$P1\"} 1" "$PX_DIR/metrics.out"
	run px status nosuch
	[ "$status" -eq 1 ]
}

@test "the admin API: a deploy by POST /deploy streams its progress and ends with its exit status" {
	local P2
	P2=$(free_port)
	start_backend "$P2" v2
	run curl -sS --unix-socket "$ADMIN" -X POST \
		"http://admin/deploy?service=app&target=127.0.0.1:$P2&health_path=/up&interval=20ms&successes=1&drain=5s"
	echo "$output"
	[[ $output == *"switched 'app' to '127.0.0.1:$P2'"* ]]
	[ "${lines[-1]}" = "exit: 0" ]
	[ "$(get /)" = v2 ]
	run curl -sS --unix-socket "$ADMIN" -X POST "http://admin/rollback?service=app&interval=20ms&successes=1"
	[ "${lines[-1]}" = "exit: 0" ]
	[ "$(get /)" = v1 ]
	# a bad parameter is refused and changes nothing
	run curl -sS --unix-socket "$ADMIN" -o /dev/null -w '%{http_code}' -X POST \
		"http://admin/deploy?service=app&target=127.0.0.1:$P2&drain=soon"
	[ "$output" = 400 ]
	[ "$(get /)" = v1 ]
}
