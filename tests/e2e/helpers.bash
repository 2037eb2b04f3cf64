# Shared by the web-server end-to-end tests (tests/e2e/*.bats).
#
# Every test gets a private directory $E2E_DIR (world-readable, because the
# servers' workers run as www-data/nobody) holding the cutover root
# ($E2E_ROOT), the server configurations, pid files, sockets and logs. Servers
# listen on free ports on 127.0.0.1 and are started with their own
# configuration only; e2e_teardown stops exactly the processes the test
# started (from their pid files) and removes the directory, also after a
# failure.

# Servers live in sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
E2E_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
E2E_LIB=$BATS_TEST_DIRNAME/lib
E2E_FIXTURES=$BATS_TEST_DIRNAME/fixtures
CUTOVER=${CUTOVER:-$E2E_REPO/cutover}
E2E_RESULTS=${E2E_RESULTS:-$E2E_REPO/build/e2e}
# bats >= 1.7 fails a test that runs longer than this; teardown still runs.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}
# wrk's shape: bounded load, stopped early (SIGINT) once the switching is done.
E2E_WRK_THREADS=${E2E_WRK_THREADS:-2}
E2E_WRK_CONNECTIONS=${E2E_WRK_CONNECTIONS:-20}
E2E_WRK_MAX_SECONDS=${E2E_WRK_MAX_SECONDS:-50}

e2e_setup() {
	# The servers' workers must read what the test writes, whatever the
	# caller's umask.
	umask 022
	E2E_DIR=$(mktemp -d /tmp/cutover-e2e.XXXXXX)
	chmod 755 "$E2E_DIR"
	E2E_ROOT=$E2E_DIR/root
	# cutover runs from here, so a cutover.yml is only what the test puts here.
	mkdir "$E2E_DIR/work"
	: > "$E2E_DIR/pidfiles"
	: > "$E2E_DIR/pids"
}

e2e_teardown() {
	[ -n "${E2E_DIR:-}" ] && [ -d "$E2E_DIR" ] || return 0
	local pid f
	# Clients first, then servers; each by the pid we recorded.
	while read -r pid; do
		e2e_stop_pid "$pid"
	done < "$E2E_DIR/pids"
	while read -r f; do
		[ -s "$f" ] && e2e_stop_pid "$(cat "$f")"
	done < "$E2E_DIR/pidfiles"
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for f in "$E2E_DIR"/*.log "$E2E_DIR"/*.out; do
			[ -s "$f" ] || continue
			echo "--- ${f##*/} (last lines)"
			tail -n 20 "$f"
		done
	fi
	if [ -n "${E2E_KEEP:-}" ]; then
		echo "# E2E_KEEP: left $E2E_DIR" >&3
	else
		rm -rf "$E2E_DIR"
	fi
}

e2e_alive() { # PID: running and not a zombie
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $s != Z* ]]
}

e2e_stop_pid() { # PID: TERM, wait up to 10s, then KILL
	local pid=$1 i
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	e2e_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		e2e_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

e2e_track_pid() { echo "$1" >> "$E2E_DIR/pids"; }
e2e_track_pidfile() { echo "$1" >> "$E2E_DIR/pidfiles"; }

# Skips the test, with the reason, when a program it needs is missing.
e2e_require() {
	local p
	for p in "$@"; do
		command -v "$p" > /dev/null ||
			skip "'$p' is not installed (scripts/deps.sh test installs it)"
	done
}

# The updater of the tests that prove cutover. E2E_UPDATER=symlink runs them
# with the hand-made atomic switch instead, to tell a harness problem from a
# cutover problem.
E2E_UPDATER=${E2E_UPDATER:-cutover}

# The cutover binary is built by 'make test'; its absence is a failure.
e2e_require_cutover() {
	[ "$E2E_UPDATER" = cutover ] || return 0
	if [ ! -x "$CUTOVER" ]; then
		echo "no cutover binary at '$CUTOVER' (run make)" >&2
		return 1
	fi
}

e2e_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# render TEMPLATE OUT KEY=VALUE...: copies TEMPLATE replacing @KEY@ by VALUE.
e2e_render() {
	local in=$1 out=$2 kv args=()
	shift 2
	for kv in "$@"; do
		args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${args[@]}" "$in" > "$out"
	if grep -q '@[A-Z_]*@' "$out"; then
		echo "unrendered placeholder in '$out':" >&2
		grep -n '@[A-Z_]*@' "$out" >&2
		return 1
	fi
}

# Waits until URL answers (any HTTP status) or fails after 10 seconds.
e2e_wait_http() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
		sleep 0.1
	done
	echo "nothing answers at $1" >&2
	return 1
}

e2e_wait_file() { # FILE: waits up to 10 seconds for it to exist
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	echo "'$1' did not appear" >&2
	return 1
}

# --- servers -----------------------------------------------------------------

# start_nginx CONF: runs nginx with CONF only (prefix $E2E_DIR), waits for PORT.
e2e_start_nginx() {
	local conf=$1 port=$2
	mkdir -p "$E2E_DIR/nginx-tmp"
	e2e_track_pidfile "$E2E_DIR/nginx.pid"
	nginx -p "$E2E_DIR/" -e "$E2E_DIR/nginx-error.log" -c "$conf" ||
		{ echo "nginx did not start" >&2; return 1; }
	e2e_wait_file "$E2E_DIR/nginx.pid"
	e2e_wait_http "http://127.0.0.1:$port/"
}

e2e_start_apache() { # CONF PORT [apache2 options]
	local conf=$1 port=$2
	shift 2
	mkdir -p "$E2E_DIR/apache-run"
	cp "$E2E_FIXTURES/cutover-release-map.pl" "$E2E_DIR/"
	e2e_track_pidfile "$E2E_DIR/apache.pid"
	apache2 -d "$E2E_DIR" -f "$conf" "$@" -k start ||
		{ echo "apache2 did not start" >&2; return 1; }
	e2e_wait_file "$E2E_DIR/apache.pid"
	e2e_wait_http "http://127.0.0.1:$port/"
}

e2e_php_fpm() { # prints the php-fpm binary
	local p
	for p in php-fpm php-fpm8.2 /usr/sbin/php-fpm[0-9]*; do
		command -v "$p" 2> /dev/null && return 0
	done
	return 1
}

e2e_start_php_fpm() {
	local conf=$1 fpm
	fpm=$(e2e_php_fpm)
	e2e_track_pidfile "$E2E_DIR/php-fpm.pid"
	"$fpm" -y "$conf" || { echo "php-fpm did not start" >&2; return 1; }
	e2e_wait_file "$E2E_DIR/php-fpm.pid"
	e2e_wait_file "$E2E_DIR/php-fpm.sock"
}

# --- sites -------------------------------------------------------------------

# make_site DIR NAME: a static site whose every file starts and ends with the
# marker "cutover-release:NAME". index.html references every asset, so it is
# also the page of the page-view consistency test. The same paths exist in
# every release; sizes differ a little between names.
e2e_make_site() {
	local dir=$1 name=$2 pad=$((${#2} * 37 + $(printf '%d' "'$2") % 7 * 101)) f i size
	mkdir -p "$dir/assets/css" "$dir/assets/js" "$dir/data" "$dir/deep/a/b/c/d"
	local files=()
	for i in 1 2 3 4; do files+=("assets/css/style-$i.css:$((i * 1500))"); done
	for i in 1 2 3 4 5 6; do files+=("assets/js/app-$i.js:$((i * 3000))"); done
	for i in 1 2 3; do files+=("data/blob-$i.txt:$((i * i * 40000))"); done
	files+=("deep/a/b/c/d/leaf.txt:200" "robots.txt:50")
	for f in "${files[@]}"; do
		size=$((${f##*:} + pad))
		{
			printf '/* cutover-release:%s */\n' "$name"
			head -c "$size" /dev/zero | tr '\0' "${name:0:1}"
			printf '\n/* %s */\n/* cutover-release:%s */\n' "${f%%:*}" "$name"
		} > "$dir/${f%%:*}"
	done
	{
		printf '<!-- cutover-release:%s -->\n<!doctype html>\n<html><head>\n' "$name"
		for i in 1 2 3 4; do printf '<link rel="stylesheet" href="/assets/css/style-%d.css">\n' "$i"; done
		for i in 1 2 3 4 5 6; do printf '<script src="/assets/js/app-%d.js"></script>\n' "$i"; done
		printf '</head><body><h1>release %s</h1></body></html>\n<!-- cutover-release:%s -->\n' "$name" "$name"
	} > "$dir/index.html"
}

e2e_site_paths() { # DIR: the URL path of every file, and "/"
	echo /
	(cd "$1" && find . -type f | sed 's|^\.||' | sort)
}

# --- updaters ----------------------------------------------------------------
# One interface, three implementations: UPDATER=cutover (the product),
# UPDATER=naive (delete the tree, copy the new one; the control that must fail)
# and UPDATER=symlink (a hand-made atomic switch: copy to releases/LABEL, make
# a symlink under a temporary name, rename it over current; the reference the
# harness itself is checked with).

co() { (cd "$E2E_DIR/work" && "$CUTOVER" "$@"); }

e2e_init_root() {
	case $UPDATER in
	cutover) co init "$E2E_ROOT" ;;
	naive) mkdir -p "$E2E_ROOT" ;;
	symlink) mkdir -p "$E2E_ROOT/releases" ;;
	esac
}

e2e_deploy() { # SRC LABEL
	case $UPDATER in
	cutover) co --quiet deploy "$1" --to "$E2E_ROOT" --label "$2" ;;
	naive) rm -rf "$E2E_ROOT/current" && cp -R "$1" "$E2E_ROOT/current" ;;
	symlink)
		cp -R "$1" "$E2E_ROOT/releases/$2" && e2e_symlink_switch "releases/$2" ;;
	esac
}

e2e_rollback() {
	case $UPDATER in
	cutover) co --quiet rollback --to "$E2E_ROOT" ;;
	symlink) e2e_symlink_switch "$(cat "$E2E_ROOT/previous")" ;;
	*) echo "no rollback with UPDATER=$UPDATER" >&2; return 1 ;;
	esac
}

e2e_symlink_switch() { # TARGET: the reference atomic switch
	[ -L "$E2E_ROOT/current" ] && readlink "$E2E_ROOT/current" > "$E2E_ROOT/previous"
	ln -sfn "$1" "$E2E_ROOT/current.tmp" && mv -T "$E2E_ROOT/current.tmp" "$E2E_ROOT/current"
}

e2e_served_release() { # URL: the marker of the page served now
	curl -s "$1" | sed -n 's/.*cutover-release:\([A-Za-z0-9]*\).*/\1/p' | head -n 1
}

# switch_many URL N ROLLBACK_EVERY: N deploys alternating between the sites
# $E2E_DIR/site-A and site-B (starting with B, as A is live), a rollback after
# every ROLLBACK_EVERY-th deploy (0: none). After each step the page must come
# from the expected release. Sets SWITCHES, ROLLBACKS, MISMATCHES.
e2e_switch_many() {
	local url=$1 n=$2 every=$3 i want cur=A prev=A deadline=$((SECONDS + 40))
	SWITCHES=0 ROLLBACKS=0 MISMATCHES=0
	for ((i = 1; i <= n; i++)); do
		if ((SECONDS > deadline)); then
			echo "only $SWITCHES deploys in 40 seconds" >&2
			return 1
		fi
		want=$([ $((i % 2)) = 1 ] && echo B || echo A)
		e2e_deploy "$E2E_DIR/site-$want" "$(echo "$want" | tr AB ab)$i" ||
			{ echo "deploy $i of site-$want failed (exit $?)" >&2; return 1; }
		SWITCHES=$((SWITCHES + 1))
		prev=$cur cur=$want
		if [ "$(e2e_served_release "$url")" != "$cur" ]; then
			echo "after deploy $i the server does not serve release $cur" >&2
			MISMATCHES=$((MISMATCHES + 1))
		fi
		if [ "$every" -gt 0 ] && [ $((i % every)) = 0 ]; then
			e2e_rollback || { echo "rollback after deploy $i failed (exit $?)" >&2; return 1; }
			ROLLBACKS=$((ROLLBACKS + 1))
			want=$prev prev=$cur cur=$want
			if [ "$(e2e_served_release "$url")" != "$cur" ]; then
				echo "after the rollback after deploy $i the server does not serve release $cur" >&2
				MISMATCHES=$((MISMATCHES + 1))
			fi
		fi
	done
}

# --- load --------------------------------------------------------------------

# load_start URL PATHS_FILE RELEASE...: wrk in the background, random paths.
e2e_load_start() {
	local url=$1
	shift
	WRK_OUT=$E2E_DIR/wrk.out
	wrk -t"$E2E_WRK_THREADS" -c"$E2E_WRK_CONNECTIONS" -d"${E2E_WRK_MAX_SECONDS}s" --timeout 5s \
		-s "$E2E_LIB/load.lua" "$url" -- "$@" > "$WRK_OUT" 2>&1 3>&- &
	WRK_PID=$!
	e2e_track_pid "$WRK_PID"
	# Let every connection get going before the first switch.
	sleep 1
	e2e_alive "$WRK_PID" || { echo "wrk exited early:" >&2; cat "$WRK_OUT" >&2; return 1; }
}

# load_stop: stops wrk (SIGINT makes it print its summary) and sets LOAD_<key>
# from its "cutover-e2e" line: requests ok bad_status foreign torn seen1 seen2
# connect read write timeout status p99_ms max_ms first_bad.
e2e_load_stop() {
	local kv line
	sleep 0.5
	kill -INT "$WRK_PID" 2>/dev/null || true
	wait "$WRK_PID" || true
	line=$(grep '^cutover-e2e ' "$WRK_OUT") || { echo "no summary from wrk:" >&2; cat "$WRK_OUT" >&2; return 1; }
	for kv in ${line#cutover-e2e }; do
		printf -v "LOAD_${kv%%=*}" '%s' "${kv#*=}"
	done
	LOAD_SOCKET_ERRORS=$((LOAD_connect + LOAD_read + LOAD_write + LOAD_timeout))
	LOAD_SUMMARY="$LOAD_requests requests, $LOAD_bad_status non-2xx, $LOAD_SOCKET_ERRORS socket errors (connect $LOAD_connect, read $LOAD_read, write $LOAD_write, timeout $LOAD_timeout), $LOAD_foreign from another release, $LOAD_torn torn; release 1: $LOAD_seen1, release 2: $LOAD_seen2; p99 ${LOAD_p99_ms}ms, max ${LOAD_max_ms}ms"
}

e2e_note() { # a TAP diagnostic line, also kept in $E2E_RESULTS/FILE when given
	echo "# $1" >&3
	if [ -n "${2:-}" ]; then
		mkdir -p "$E2E_RESULTS"
		echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $1" >> "$E2E_RESULTS/$2"
	fi
}

# The pass bar of issue 3 for one run of load_start/switch_many/load_stop.
e2e_assert_zero_downtime() {
	local fail=0
	if [ "$LOAD_requests" -lt 1000 ]; then echo "too little load: $LOAD_requests requests" >&2; fail=1; fi
	if [ "$LOAD_bad_status" != 0 ] || [ "$LOAD_status" != 0 ]; then echo "non-2xx responses: $LOAD_bad_status (first: $LOAD_first_bad)" >&2; fail=1; fi
	if [ "$LOAD_SOCKET_ERRORS" != 0 ]; then echo "socket errors: $LOAD_SOCKET_ERRORS" >&2; fail=1; fi
	if [ "$LOAD_foreign" != 0 ] || [ "$LOAD_torn" != 0 ]; then echo "bodies not from one release: $LOAD_foreign foreign, $LOAD_torn torn (first: $LOAD_first_bad)" >&2; fail=1; fi
	if [ "$LOAD_seen1" = 0 ] || [ "$LOAD_seen2" = 0 ]; then echo "load did not see both releases" >&2; fail=1; fi
	if [ "$MISMATCHES" != 0 ]; then echo "$MISMATCHES switches did not change what the server serves" >&2; fail=1; fi
	return $fail
}
