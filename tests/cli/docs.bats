#!/usr/bin/env bats
load helpers

# The documentation must keep up with the binary.

@test "the man page renders and describes every command" {
	command -v scdoc > /dev/null || skip "scdoc is not installed"
	scdoc < "$BATS_TEST_DIRNAME/../../docs/cutover.1.scd" > "$T/cutover.1"
	for c in $(cutover --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/ {print $1}'); do
		grep -q "^\\\\fB$c\\\\fR" "$T/cutover.1" || { echo "no entry for '$c'"; false; }
	done
}

@test "every deploy flag is in the man page and the README" {
	man="$BATS_TEST_DIRNAME/../../docs/cutover.1.scd"
	readme="$BATS_TEST_DIRNAME/../../README.md"
	for f in $(cutover deploy --help 2>&1 | grep -o -- '--[a-z-]*' | sort -u); do
		[ "$f" = --help ] && continue
		grep -q -- "$f" "$man" || { echo "man page lacks $f"; false; }
		grep -q -- "$f" "$readme" || { echo "README lacks $f"; false; }
	done
}

@test "every exit code of DESIGN is in the man page" {
	man="$BATS_TEST_DIRNAME/../../docs/cutover.1.scd"
	for c in 0 1 2 3 4 5 70; do grep -q "^\*$c\*" "$man"; done
}

@test "the systemd units in docs/ pass systemd-analyze verify" {
	command -v systemd-analyze > /dev/null || skip "systemd-analyze is not installed"
	local d=$BATS_TEST_DIRNAME/../../docs
	mkdir -p "$T/units"
	# the unit runs /usr/local/bin/cutover; verify checks that it exists
	sed "s|/usr/local/bin/cutover|$(realpath "$BATS_TEST_DIRNAME/../../cutover")|" "$d/cutover-proxy.service" > "$T/units/cutover-proxy.service"
	cp "$d/cutover-proxy.socket" "$T/units/"
	run systemd-analyze verify "$T/units/cutover-proxy.socket" "$T/units/cutover-proxy.service"
	echo "$output"
	[ "$status" = 0 ]
	[ -z "$output" ]
}
