#!/usr/bin/env bats
load helpers

# kill -9 at every step of a deploy (CUTOVER_CRASH_AT makes the binary
# SIGKILL itself there): `current` must always name a complete release, and
# the next command must clean up what was left.

sweep_one() {
	local point=$1
	cutover init "$ROOT" > /dev/null
	echo v1 > "$SRC/index.html"
	cutover deploy "$SRC" --to "$ROOT" --keep 2 > /dev/null
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "$ROOT" --keep 2 > /dev/null
	before=$(current_id)
	echo v3 > "$SRC/index.html"
	echo "new file $point" > "$SRC/new.txt"
	run env CUTOVER_CRASH_AT="$point" "$CUTOVER" deploy "$SRC" --to "$ROOT" --keep 2
	[ "$status" -eq 137 ] || { echo "$point: exit $status, not killed: $output"; return 1; }
	# the site is whole at this instant, before any clean-up
	id=$(current_id)
	[ -d "$ROOT/releases/$id" ]
	( cd "$ROOT/releases/$id" && sha256sum -c --quiet --strict "$ROOT/.cutover/manifests/$id.sha256" )
	# the next command cleans up
	cutover status --to "$ROOT" > /dev/null
	[ -z "$(ls -A "$ROOT/.cutover/staging")" ] || { ls -la "$ROOT/.cutover/staging"; return 1; }
	if ls -A "$ROOT" | grep -q '^\.current\.tmp'; then echo "$point: a temporary link was left"; return 1; fi
	for r in $(ls "$ROOT/releases"); do
		[ -e "$ROOT/.cutover/manifests/$r.tree.zst" ] || { echo "release $r has no manifest"; return 1; }
		cutover verify "$r" --to "$ROOT" > /dev/null
	done
	for t in "$ROOT"/.cutover/manifests/*.tree.zst; do
		[ -d "$ROOT/releases/$(basename "$t" .tree.zst)" ] || { echo "manifest $t has no release"; return 1; }
	done
	# and a deploy works afterwards
	cutover deploy "$SRC" --to "$ROOT" --keep 2 > /dev/null
	[ "$(cat "$ROOT/current/index.html")" = v3 ]
	rm -rf "$ROOT"
}

@test "kill -9 at every step of a deploy leaves a complete site" {
	for p in pending read objects staged manifest renamed synced switch-link switch-rename switched recorded prune-moved; do
		echo "kill point: $p" # shown when a check below fails
		sweep_one "$p" # not in a condition: errexit must stay on inside it
	done
}

@test "kill -9 before the switch keeps the old release live" {
	for p in pending objects renamed synced switch-link; do
		cutover init "$ROOT" > /dev/null
		cutover deploy "$SRC" --to "$ROOT" > /dev/null
		before=$(current_id)
		run env CUTOVER_CRASH_AT="$p" "$CUTOVER" deploy "$SRC" --to "$ROOT"
		[ "$status" -eq 137 ]
		[ "$(current_id)" = "$before" ]
		cutover status --to "$ROOT" > /dev/null
		[ "$(release_count)" -eq 1 ]
		run cutover log --to "$ROOT"
		[[ "$output" == *"interrupted before the switch"* ]]
		rm -rf "$ROOT"
	done
}

@test "kill -9 after the switch keeps the new release live and records it" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	run env CUTOVER_CRASH_AT=switched "$CUTOVER" deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 137 ]
	new=$(current_id)
	cutover status --to "$ROOT"
	[ "$(current_id)" = "$new" ]
	[ "$(release_count)" -eq 2 ]
	run cutover log --to "$ROOT"
	[[ "$output" == *interrupted* ]]
}

# every object is named after the SHA-256 of its bytes (objects/ab/cdef…-644)
objects_whole() {
	local o name
	for o in "$ROOT"/.cutover/objects/??/*; do
		[ -e "$o" ] || continue
		name=${o#"$ROOT"/.cutover/objects/}
		name=${name%-*}
		[ "$(sha256sum < "$o" | cut -c1-64)" = "${name%%/*}${name#*/}" ] ||
			{ echo "object $o does not hold its bytes"; return 1; }
	done
}

@test "kill -9 at every step of a first deploy (files stored in one pass) leaves a whole site" {
	big=$(head -c 300000 /dev/urandom | base64)
	for p in pending placed read objects staged manifest renamed synced switch-link switch-rename switched recorded; do
		cutover init "$ROOT" > /dev/null
		printf '%s\n' "$big" > "$SRC/big.txt"
		cp "$SRC/css/site.css" "$SRC/css/copy.css"
		run env CUTOVER_CRASH_AT="$p" "$CUTOVER" deploy "$SRC" --to "$ROOT"
		[ "$status" -eq 137 ] || { echo "$p: exit $status, not killed: $output"; false; }
		# either nothing is live yet, or a complete release is
		if [ -L "$ROOT/current" ]; then
			id=$(current_id)
			( cd "$ROOT/releases/$id" && sha256sum -c --quiet --strict "$ROOT/.cutover/manifests/$id.sha256" )
		fi
		objects_whole || { echo "after a kill at $p"; false; }
		cutover status --to "$ROOT" > /dev/null
		[ -z "$(ls -A "$ROOT/.cutover/staging")" ] || { echo "$p: staging left"; false; }
		cutover deploy "$SRC" --to "$ROOT" > /dev/null
		cutover verify --to "$ROOT" > /dev/null
		objects_whole || { echo "after the deploy that followed a kill at $p"; false; }
		[ "$(stat -c %i "$ROOT/current/css/site.css")" = "$(stat -c %i "$ROOT/current/css/copy.css")" ]
		rm -rf "$ROOT"
	done
}

# objects stored by a deploy that never went live were never synced: a
# power cut can leave one empty under its hash name (simulated here by
# truncating it), and no later deploy may link such an object
objects_of() { # ROOT: every object, one per line
	find "$1/.cutover/objects" -mindepth 2 -type f | sort
}

@test "after an interrupted deploy, the objects it stored are dropped, so a torn one is never reused" {
	cutover init "$ROOT" > /dev/null
	cutover deploy "$SRC" --to "$ROOT" > /dev/null
	objects_of "$ROOT" > "$T/before"
	echo "content first stored by a deploy that dies" > "$SRC/new.txt"
	run env CUTOVER_CRASH_AT=renamed "$CUTOVER" deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 137 ]
	objects_of "$ROOT" > "$T/crashed"
	new=$(comm -13 "$T/before" "$T/crashed")
	[ -n "$new" ]
	# the power cut: the new object's name survived, its data did not
	for o in $new; do chmod u+w "$o"; : > "$o"; done
	cutover status --to "$ROOT" > /dev/null
	objects_of "$ROOT" > "$T/after"
	diff "$T/before" "$T/after"
	cutover deploy "$SRC" --to "$ROOT" > /dev/null
	[ "$(cat "$ROOT/current/new.txt")" = "content first stored by a deploy that dies" ]
	cutover verify --to "$ROOT" > /dev/null
}

@test "a first deploy that fails while it reads leaves an empty root" {
	# files are written straight into the staged tree as they are read:
	# those already there, and their objects, must go with the failure
	for i in $(seq 1 200); do echo "file $i" > "$SRC/f$i.txt"; done
	echo secret > "$SRC/zz-secret.txt"
	cutover init "$ROOT" > /dev/null
	deploy_unreadable "$SRC/zz-secret.txt"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read '$SRC/zz-secret.txt': Permission denied"* ]]
	[ ! -e "$ROOT/current" ]
	[ -z "$(ls -A "$ROOT/releases")" ]
	[ -z "$(ls -A "$ROOT/.cutover/staging")" ]
	[ -z "$(objects_of "$ROOT")" ]
}

@test "a deploy that fails before the switch leaves no object behind" {
	cutover init "$ROOT" > /dev/null
	cutover deploy "$SRC" --to "$ROOT" > /dev/null
	objects_of "$ROOT" > "$T/before"
	echo "stored, then the hook fails" > "$SRC/new.txt"
	run cutover deploy "$SRC" --to "$ROOT" --before-switch 'exit 3'
	[ "$status" -ne 0 ]
	objects_of "$ROOT" > "$T/after"
	diff "$T/before" "$T/after"
	# and the same content deploys whole afterwards
	cutover deploy "$SRC" --to "$ROOT" > /dev/null
	cutover verify --to "$ROOT" > /dev/null
}
