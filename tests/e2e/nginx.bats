#!/usr/bin/env bats
# Issue 3, items 1 and 2: nginx serves <root>/current; wrk requests random
# asset paths while the site is switched back and forth. cutover must cause no
# failed request and no response from outside the two releases; the naive
# in-place update must be caught by the very same harness.

load helpers

setup() {
	e2e_require nginx wrk curl python3
	e2e_setup
	PORT=$(e2e_free_port)
	URL=http://127.0.0.1:$PORT
	e2e_make_site "$E2E_DIR/site-A" A
	e2e_make_site "$E2E_DIR/site-B" B
	e2e_site_paths "$E2E_DIR/site-A" > "$E2E_DIR/paths"
	e2e_render "$E2E_FIXTURES/nginx-static.conf" "$E2E_DIR/nginx.conf" \
		DIR="$E2E_DIR" PORT="$PORT" DOCROOT="$E2E_ROOT/current"
}

teardown() {
	e2e_teardown
}

start_site() { # UPDATER: root with release A live, nginx serving it
	UPDATER=$1
	e2e_init_root
	e2e_deploy "$E2E_DIR/site-A" a0
	e2e_start_nginx "$E2E_DIR/nginx.conf" "$PORT"
	[ "$(e2e_served_release "$URL/")" = A ]
}

@test "nginx: 50 cutover deploys and 10 rollbacks under load fail no request" {
	e2e_require_cutover
	start_site "$E2E_UPDATER"
	e2e_load_start "$URL" "$E2E_DIR/paths" A B
	e2e_switch_many "$URL/" 50 5
	e2e_load_stop
	e2e_note "nginx + cutover: $SWITCHES deploys, $ROLLBACKS rollbacks; $LOAD_SUMMARY" e2e-load.txt
	e2e_assert_zero_downtime
}

@test "nginx: the harness catches a naive in-place update (delete tree, copy new)" {
	start_site naive
	e2e_load_start "$URL" "$E2E_DIR/paths" A B
	e2e_switch_many "$URL/" 50 0
	e2e_load_stop
	e2e_note "nginx + naive update: $SWITCHES updates; $LOAD_SUMMARY" e2e-load.txt
	[ "$LOAD_seen1" -gt 0 ] && [ "$LOAD_seen2" -gt 0 ]
	failed=$((LOAD_bad_status + LOAD_SOCKET_ERRORS + LOAD_torn + LOAD_foreign))
	if [ "$failed" -eq 0 ]; then
		echo "the naive update produced no error: the harness measures nothing" >&2
		return 1
	fi
}

@test "nginx: the harness flags responses from a release it was not told about" {
	# A hand-made atomic switch (symlink to a temporary name, rename over
	# current) between A and a third release C; only A and B are expected.
	e2e_make_site "$E2E_DIR/site-C" C
	mkdir -p "$E2E_ROOT"
	cp -R "$E2E_DIR/site-A" "$E2E_ROOT/A"
	cp -R "$E2E_DIR/site-C" "$E2E_ROOT/C"
	ln -s A "$E2E_ROOT/current"
	e2e_start_nginx "$E2E_DIR/nginx.conf" "$PORT"
	e2e_load_start "$URL" "$E2E_DIR/paths" A B
	for i in 1 2 3 4 5 6 7 8 9 10; do
		ln -sfn "$([ $((i % 2)) = 1 ] && echo C || echo A)" "$E2E_ROOT/current.tmp"
		mv -T "$E2E_ROOT/current.tmp" "$E2E_ROOT/current"
		sleep 0.1
	done
	e2e_load_stop
	e2e_note "nginx + hand-made symlink switch to an unexpected release: $LOAD_SUMMARY"
	[ "$LOAD_foreign" -gt 0 ]
	# An atomic switch itself fails nothing, so the errors counted in the other
	# tests are the update method's, not the harness's.
	[ "$LOAD_bad_status" = 0 ] && [ "$LOAD_SOCKET_ERRORS" = 0 ] && [ "$LOAD_torn" = 0 ]
}

@test "nginx: with open_file_cache on, the old release is still served after the switch" {
	# Why nginx-static.conf says "open_file_cache off": cached descriptors stay
	# valid after the switch (the old files still exist), so a warm cache
	# keeps serving the old release, next to new files for paths not cached.
	e2e_require_cutover
	# One worker: the cache is per worker, and the test must hit the warm one.
	sed -i -e 's/open_file_cache off;/open_file_cache max=1000 inactive=20s; open_file_cache_valid 60s;/' \
		-e 's/^worker_processes 2;/worker_processes 1;/' "$E2E_DIR/nginx.conf"
	start_site "$E2E_UPDATER"
	e2e_deploy "$E2E_DIR/site-B" b1
	sleep 1
	[ "$(e2e_served_release "$URL/")" = A ]
	[ "$(e2e_served_release "$URL/robots.txt")" = B ]
}

@test "nginx: adopting a live docroot (init --adopt) and deploying under load fail no request" {
	# The way onto cutover: <root>/current is a plain directory that nginx
	# serves; it becomes the first release and a symlink, under load.
	e2e_require_cutover
	[ "$E2E_UPDATER" = cutover ] || skip "init --adopt is cutover's"
	mkdir -p "$E2E_ROOT"
	cp -R "$E2E_DIR/site-A" "$E2E_ROOT/current"
	e2e_start_nginx "$E2E_DIR/nginx.conf" "$PORT"
	e2e_load_start "$URL" "$E2E_DIR/paths" A B
	co init "$E2E_ROOT" --adopt
	[ -L "$E2E_ROOT/current" ]
	UPDATER=cutover
	e2e_switch_many "$URL/" 4 2
	e2e_load_stop
	e2e_note "nginx + cutover init --adopt, then $SWITCHES deploys, $ROLLBACKS rollbacks: $LOAD_SUMMARY" e2e-load.txt
	e2e_assert_zero_downtime
}
