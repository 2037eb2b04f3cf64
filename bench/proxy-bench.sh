#!/bin/bash
# Traffic switching under load: cutover proxy vs HAProxy vs nginx.
#
# One backend (nginx, 1 worker, two servers answering "v1"/"v2"), the same
# wrk load for each proxy (1 thread, 50 keep-alive connections, DURATION
# seconds), one worker thread per proxy, and a switch between the two
# backend servers every 200 ms while wrk runs:
#   cutover  'cutover proxy deploy' (health check, switch, drain): a new
#            process for every switch, as an operator would run it
#   cutover  the same deploy through its admin API (POST /deploy) from one
#            long-lived client: bench/proxy-switch.py, as for HAProxy
#   haproxy  runtime API: 'set server be/sN state ready|maint' (nbthread 1),
#            from one long-lived client (bench/proxy-switch.py)
#   nginx    rewrite the upstream and 'nginx -s reload' (worker_processes 1)
# They run in turn, ROUNDS times (default 5) (the CPUs are shared, so one run of
# each says little). Prints a Markdown table: median requests/s, median
# p50/p99 latency, median CPU time the proxy used per request (its own
# process, plus for nginx its workers, old and new), and over all rounds:
# socket errors, non-2xx answers, switches done.
#
# usage: bench/proxy-bench.sh [DURATION_SECONDS [ROUNDS]]   (make bench-proxy)
set -u
cd "$(dirname "$0")/.."
DURATION=${1:-${DURATION:-10}}
ROUNDS=${2:-${ROUNDS:-5}}
CUTOVER=$PWD/cutover
for t in nginx haproxy wrk python3; do
	command -v $t > /dev/null || { echo "proxy-bench: '$t' is missing (scripts/deps.sh bench)" >&2; exit 1; }
done
[ -x "$CUTOVER" ] || { echo "proxy-bench: build ./cutover first (make)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/cutover-proxy-bench.XXXXXX)
chmod 755 "$DIR"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2> /dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2> /dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT

spawn() { # LOG CMD... (own process group)
	local log=$1
	shift
	setsid "$@" > "$log" 2>&1 < /dev/null &
	PIDS+=($!)
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
		sleep 0.05
	done
	echo "proxy-bench: nothing listens on $1" >&2
	exit 1
}
nginx_common() { # PREFIX
	cat <<-CONF
	worker_processes 1;
	daemon off;
	pid $1/nginx.pid;
	error_log $1/error.log warn;
	events { worker_connections 4096; }
	CONF
}
temp_paths() { # PREFIX
	echo "client_body_temp_path $1/tmp; proxy_temp_path $1/tmp; fastcgi_temp_path $1/tmp; uwsgi_temp_path $1/tmp; scgi_temp_path $1/tmp;"
}

B1=$(free_port) B2=$(free_port)
mkdir -p "$DIR/backend/tmp"
chmod -R 777 "$DIR/backend"
{
	nginx_common "$DIR/backend"
	echo "http { access_log off; keepalive_requests 1000000; $(temp_paths "$DIR/backend")"
	echo "  server { listen 127.0.0.1:$B1; location / { return 200 \"v1\n\"; } }"
	echo "  server { listen 127.0.0.1:$B2; location / { return 200 \"v2\n\"; } }"
	echo "}"
} > "$DIR/backend/nginx.conf"
spawn "$DIR/backend.log" nginx -c "$DIR/backend/nginx.conf" -p "$DIR/backend"
wait_port $B1
wait_port $B2

# CPU time (clock ticks) the proxy with process (group leader) PID has used:
# its own, that of children it has reaped (nginx workers replaced by a
# reload), and that of its live children.
proc_ticks() { # PID
	local t c
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat")
	for c in $(pgrep -P "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2> /dev/null || echo 0)))
	done
	echo "$t"
}

# run_case NAME PORT SWITCH_FUNCTION PROXY_PID: wrk plus a switch every 200 ms
run_case() {
	local name=$1 port=$2 switch=$3 pid=$4 n=0 i=0 t0
	t0=$(proc_ticks "$pid")
	wrk -t1 -c50 -d"${DURATION}"s --latency "http://127.0.0.1:$port/" > "$DIR/$name.wrk" 2>&1 &
	local wrk=$!
	sleep 0.5
	if [ "$switch" = haproxy ]; then
		n=$(python3 bench/proxy-switch.py haproxy "$DIR/haproxy.sock" "$((DURATION - 1))")
	elif [ "$switch" = cutover_api ]; then
		n=$(python3 bench/proxy-switch.py cutover "$DIR/cutover.sock" "$((DURATION - 1))" $B1 $B2)
	else
		while kill -0 $wrk 2> /dev/null; do
			i=$((i + 1))
			if $switch $((i % 2)) > "$DIR/$name.switch" 2>&1; then n=$((n + 1)); else
				echo "proxy-bench: $name switch failed: $(tail -1 "$DIR/$name.switch")" >&2; fi
			sleep 0.2
		done
	fi
	wait $wrk
	local ticks=$(($(proc_ticks "$pid") - t0))
	local rps p50 p99 errs non2xx cpu reqs
	rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$DIR/$name.wrk")
	# wrk writes 950.00us, 1.20ms, 1.05s: all in ms here
	local to_ms='{v=$2; u=v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
		printf "%.2f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v}'
	p50=$(awk '$1 == "50%" '"$to_ms" "$DIR/$name.wrk")
	p99=$(awk '$1 == "99%" '"$to_ms" "$DIR/$name.wrk")
	errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$DIR/$name.wrk")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$DIR/$name.wrk")
	# the proxy's CPU time per request, in microseconds
	reqs=$(awk '/requests in/ {print $1}' "$DIR/$name.wrk")
	cpu=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v r="$reqs" 'BEGIN {printf "%.1f", r ? t * 1e6 / hz / r : 0}')
	echo "$rps $p50 $p99 ${errs:-0} ${non2xx:-0} $n $cpu" >> "$DIR/$name.rounds"
}

# median of column COL over the rounds of NAME; sum for the counters
median() { cut -d' ' -f"$2" "$DIR/$1.rounds" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
total() { cut -d' ' -f"$2" "$DIR/$1.rounds" | awk '{s+=$1} END {print s}'; }
report() { # NAME LABEL
	printf '| %-28s | %10s | %8s | %8s | %11s | %13s | %7s | %8s |\n' "$2" "$(median "$1" 1)" "$(median "$1" 2)ms" \
		"$(median "$1" 3)ms" "$(median "$1" 7)us" "$(total "$1" 4)" "$(total "$1" 5)" "$(total "$1" 6)"
}

# --- cutover
CP=$(free_port)
spawn "$DIR/cutover.log" "$CUTOVER" proxy run --listen 127.0.0.1:$CP --admin "$DIR/cutover.sock" --state "$DIR/cutover.state"
CUTOVER_PID=${PIDS[-1]}
for _ in $(seq 100); do [ -S "$DIR/cutover.sock" ] && break; sleep 0.05; done
cutover_switch() {
	local port=$B1
	[ "$1" = 1 ] && port=$B2
	"$CUTOVER" proxy deploy app --admin "$DIR/cutover.sock" --target "127.0.0.1:$port" \
		--health-interval 10ms --health-successes 1 --drain 5s
}
cutover_switch 0 > /dev/null

# --- haproxy
HP=$(free_port)
cat > "$DIR/haproxy.cfg" <<-CONF
global
  nbthread 1
  maxconn 4096
  stats socket $DIR/haproxy.sock mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$HP
  default_backend be
backend be
  http-reuse safe
  server s1 127.0.0.1:$B1
  server s2 127.0.0.1:$B2 disabled
CONF
spawn "$DIR/haproxy.log" haproxy -f "$DIR/haproxy.cfg" -db
HAPROXY_PID=${PIDS[-1]}

# --- nginx as the proxy
NP=$(free_port)
mkdir -p "$DIR/nginx/tmp"
chmod -R 777 "$DIR/nginx"
{
	nginx_common "$DIR/nginx"
	echo "http { access_log off; keepalive_requests 1000000; $(temp_paths "$DIR/nginx")"
	echo "  include $DIR/nginx/upstream.conf;"
	echo "  server { listen 127.0.0.1:$NP; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
	echo "}"
} > "$DIR/nginx/nginx.conf"
echo "upstream app { server 127.0.0.1:$B1; keepalive 64; }" > "$DIR/nginx/upstream.conf"
spawn "$DIR/nginx.log" nginx -c "$DIR/nginx/nginx.conf" -p "$DIR/nginx"
NGINX_PID=${PIDS[-1]}
nginx_switch() {
	local port=$B1
	[ "$1" = 1 ] && port=$B2
	echo "upstream app { server 127.0.0.1:$port; keepalive 64; }" > "$DIR/nginx/upstream.conf"
	nginx -c "$DIR/nginx/nginx.conf" -p "$DIR/nginx" -s reload
}
wait_port $CP
wait_port $HP
wait_port $NP

echo "wrk -t1 -c50 -d${DURATION}s, keep-alive, switching between two backend servers every 200 ms;"
echo "$ROUNDS rounds (median; errors, non-2xx and switches summed); $(nproc) CPUs"
echo
for r in $(seq "$ROUNDS"); do
	run_case cutover $CP cutover_switch "$CUTOVER_PID"
	run_case cutoverapi $CP cutover_api "$CUTOVER_PID"
	run_case haproxy $HP haproxy "$HAPROXY_PID"
	run_case nginx $NP nginx_switch "$NGINX_PID"
done
printf '| %-28s | %10s | %8s | %8s | %11s | %13s | %7s | %8s |\n' proxy "requests/s" p50 p99 "CPU/request" "socket errors" \
	non-2xx switches
echo "|------------------------------|-----------:|---------:|---------:|------------:|--------------:|--------:|---------:|"
report cutover "cutover proxy (deploy)"
report cutoverapi "cutover proxy (admin API)"
report haproxy "HAProxy $(haproxy -v | awk 'NR==1 {print $3}' | cut -d- -f1) (runtime API)"
report nginx "nginx $(nginx -v 2>&1 | sed 's|.*/||') (reload)"
