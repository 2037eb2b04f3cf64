#!/usr/bin/env bats
load helpers

three_releases() {
	cutover init "$ROOT"
	for v in 1 2 3; do
		echo "v$v" > "$SRC/index.html"
		cutover deploy "$SRC" --to "$ROOT" --label "r$v"
	done
}

@test "rollback goes to the release before the live one" {
	three_releases
	run cutover rollback --to "$ROOT"
	[ "$status" -eq 0 ]
	[ "$(cat "$ROOT/current/index.html")" = v2 ]
	cutover rollback --to "$ROOT"
	[ "$(cat "$ROOT/current/index.html")" = v1 ]
	run cutover rollback --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"oldest release"* ]]
}

@test "rollback to a named release, and forward again" {
	three_releases
	r1=$(ls "$ROOT/releases" | grep r1)
	r3=$(ls "$ROOT/releases" | grep r3)
	cutover rollback "$r1" --to "$ROOT"
	[ "$(current_id)" = "$r1" ]
	cutover rollback "$r3" --to "$ROOT"
	[ "$(current_id)" = "$r3" ]
	run cutover rollback "$r3" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already live"* ]]
}

@test "rollback runs after_rollback with the environment" {
	three_releases
	run cutover rollback --to "$ROOT" --after-rollback 'echo "now $CUTOVER_RELEASE was $CUTOVER_PREVIOUS"'
	[ "$status" -eq 0 ]
	[[ "$output" == *"after_rollback| now "*"-r2 was "*"-r3"* ]]
}

@test "a rollback whose check fails returns to where it was (exit 4)" {
	three_releases
	before=$(current_id)
	run cutover rollback --to "$ROOT" --check false --check-retries 0
	[ "$status" -eq 4 ]
	[ "$(current_id)" = "$before" ]
}

@test "rollback with nothing deployed" {
	cutover init "$ROOT"
	run cutover rollback --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no live release"* ]]
}
