# Shared by tests/e2e/proxy_*.bats: backends, the proxy, wrk, cleanup.
#
# Every process a test starts runs in its own process group (setsid) whose
# id goes to $PX_DIR/pgids; px_teardown kills those groups, so a failed
# test leaves nothing running. Only 127.0.0.1, only free ports.

PX_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
CUTOVER=${CUTOVER:-$PX_REPO/cutover}
BACKEND=$BATS_TEST_DIRNAME/proxy_backend.py
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-90}

px_setup() {
	umask 022
	PX_DIR=$(mktemp -d /tmp/cutover-proxy.XXXXXX)
	chmod 755 "$PX_DIR"
	: > "$PX_DIR/pgids"
	ADMIN=$PX_DIR/admin.sock
	STATE=$PX_DIR/proxy.state
}

px_teardown() {
	[ -n "${PX_DIR:-}" ] && [ -d "$PX_DIR" ] || return 0
	local pg
	while read -r pg; do
		kill -TERM -- "-$pg" 2>/dev/null
	done < "$PX_DIR/pgids"
	sleep 0.2
	while read -r pg; do
		kill -KILL -- "-$pg" 2>/dev/null
	done < "$PX_DIR/pgids"
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for f in "$PX_DIR"/*.log "$PX_DIR"/*.out; do
			[ -s "$f" ] || continue
			echo "--- ${f##*/} (last lines)"
			tail -n 15 "$f"
		done
	fi
	rm -rf "$PX_DIR"
}

# Run a command in the background in its own process group, output to LOG.
# Prints the process (= group) id.
px_spawn() { # LOG CMD...
	local log=$1
	shift
	setsid "$@" > "$log" 2>&1 < /dev/null 3>&- &
	local pid=$!
	echo "$pid" >> "$PX_DIR/pgids"
	echo "$pid"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT
	local i
	for i in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# A python backend answering "VERSION\n"; extra args passed on (--unhealthy).
start_backend() { # PORT VERSION [ARGS]
	px_spawn "$PX_DIR/backend-$1.log" python3 "$BACKEND" "$@" > /dev/null
	wait_port "$1"
}

# One nginx (1 worker) with two servers answering "v1\n" and "v2\n": fast
# backends for the load tests.
start_nginx_backends() { # PORT1 PORT2
	command -v nginx > /dev/null || skip "nginx is not installed"
	mkdir -p "$PX_DIR/nginx/tmp" "$PX_DIR/nginx/logs"
	chmod -R 777 "$PX_DIR/nginx"
	cat > "$PX_DIR/nginx/nginx.conf" <<-CONF
	worker_processes 1;
	daemon off;
	pid $PX_DIR/nginx/nginx.pid;
	error_log $PX_DIR/nginx/logs/error.log warn;
	events { worker_connections 4096; }
	http {
	  access_log off;
	  client_body_temp_path $PX_DIR/nginx/tmp;
	  proxy_temp_path $PX_DIR/nginx/tmp;
	  fastcgi_temp_path $PX_DIR/nginx/tmp;
	  uwsgi_temp_path $PX_DIR/nginx/tmp;
	  scgi_temp_path $PX_DIR/nginx/tmp;
	  server { listen 127.0.0.1:$1; location / { return 200 "v1\n"; } }
	  server { listen 127.0.0.1:$2; location / { return 200 "v2\n"; } }
	}
	CONF
	px_spawn "$PX_DIR/nginx.log" nginx -c "$PX_DIR/nginx/nginx.conf" -p "$PX_DIR/nginx" > /dev/null
	wait_port "$1" && wait_port "$2"
}

# The proxy on PROXY_PORT with its admin socket and state file in PX_DIR.
# PROXY_WRAP, when set, is a command that runs it (prlimit --nofile=64:64).
start_proxy() { # [EXTRA RUN OPTIONS]
	PROXY_PORT=${PROXY_PORT:-$(free_port)}
	PROXY_PID=$(px_spawn "$PX_DIR/proxy.log" ${PROXY_WRAP:-} "$CUTOVER" proxy run --listen "127.0.0.1:$PROXY_PORT" \
		--admin "$ADMIN" --state "$STATE" "$@")
	local i
	for i in $(seq 100); do
		[ -S "$ADMIN" ] && return 0
		sleep 0.05
	done
	echo "the proxy did not start" >&2
	cat "$PX_DIR/proxy.log" >&2
	return 1
}

px() { # cutover proxy SUBCOMMAND ... against our admin socket
	local sub=$1
	shift
	"$CUTOVER" proxy "$sub" --admin "$ADMIN" "$@"
}

# A deploy with quick health checks, for tests.
px_deploy() { # SERVICE PORT [OPTIONS]
	local svc=$1 port=$2
	shift 2
	px deploy "$svc" --target "127.0.0.1:$port" --health-interval 20ms --health-successes 1 "$@"
}

get() { # PATH [CURL ARGS]: body of a GET through the proxy
	local path=$1
	shift
	curl -sS --max-time 10 "$@" "http://127.0.0.1:$PROXY_PORT$path"
}

# wrk with keep-alive, its report in FILE; runs in the background.
start_wrk() { # FILE SECONDS [CONNECTIONS]
	command -v wrk > /dev/null || skip "wrk is not installed"
	WRK_PID=$(px_spawn "$1" wrk -t1 -c"${3:-50}" -d"$2"s --latency "http://127.0.0.1:$PROXY_PORT/")
}

# Wait for wrk and check its report: enough requests, no socket errors,
# nothing but 2xx/3xx.
check_wrk() { # FILE MIN_REQUESTS
	local i
	for i in $(seq 600); do
		kill -0 "$WRK_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$1"
	grep -q "requests in" "$1"
	! grep -q "Socket errors" "$1"
	! grep -q "Non-2xx" "$1"
	local n
	n=$(awk '/requests in/ {print $1}' "$1")
	[ "$n" -ge "$2" ]
}
