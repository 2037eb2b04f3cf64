# Shared set-up for the command-line tests: a scratch directory per test,
# the binary under test, and small site trees to deploy.
CUTOVER=${CUTOVER:-$BATS_TEST_DIRNAME/../../cutover}

setup() {
	T=$(mktemp -d /tmp/cutover-cli.XXXXXX)
	cd "$T"
	umask 022
	ROOT=$T/site
	SRC=$T/src
	make_site "$SRC" v1
}

teardown() {
	cd /
	if [ -n "${ROOT:-}" ] && mountpoint -q "$ROOT/.cutover/objects" 2>/dev/null; then
		umount "$ROOT/.cutover/objects"
	fi
	[ -n "${T:-}" ] && rm -rf "$T"
}

# The binary, with one rule checked on every call: a line that says
# "error:" means the command failed. Its standard error is shown after it
# ends (after its standard output).
cutover() {
	local rc=0 err
	err=$(mktemp "${T:-/tmp}/stderr.XXXXXX")
	"$CUTOVER" "$@" 2> "$err" || rc=$?
	cat "$err" >&2
	if [ "$rc" -eq 0 ] && grep -q '^cutover: error:' "$err"; then
		echo "test helper: 'cutover $*' exited 0 after an error line" >&2
		rc=99
	fi
	rm -f "$err"
	return "$rc"
}

# make_site DIR VERSION: a small tree with nested dirs, a symlink and an executable
make_site() {
	mkdir -p "$1/css" "$1/js/lib" "$1/img"
	echo "<html>$2</html>" > "$1/index.html"
	echo "body{}" > "$1/css/site.css"
	echo "console.log(1)" > "$1/js/lib/a.js"
	printf '\x89PNG' > "$1/img/logo.png"
	printf '#!/bin/sh\necho run\n' > "$1/run.sh"
	chmod 755 "$1/run.sh"
	ln -sfn index.html "$1/home.html"
}

current_id() { basename "$(readlink "$ROOT/current")"; }
release_count() { ls "$ROOT/releases" | wc -l; }

# deploy_unreadable PATH: a deploy of $SRC as nobody with PATH made unreadable
# (root reads anything); sets $status and $output like `run`
deploy_unreadable() {
	chmod 755 "$T"
	chown -R nobody "$ROOT" "$SRC"
	chmod 000 "$1"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CUTOVER" deploy "$SRC" --to "$ROOT"
}
