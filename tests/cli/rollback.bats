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

@test "a rollback is a switch: after_switch runs, then after_rollback, then the check" {
	three_releases
	r2=$(ls "$ROOT/releases" | grep r2)
	r3=$(current_id)
	run cutover rollback --to "$ROOT" \
		--after-switch "echo \"after_switch \$CUTOVER_RELEASE \$CUTOVER_PREVIOUS\" >> '$T/order'" \
		--after-rollback "echo \"after_rollback \$CUTOVER_RELEASE\" >> '$T/order'" \
		--check "echo check >> '$T/order'"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/order")" = "after_switch $r2 $r3
after_rollback $r2
check" ]
	# the same from cutover.yml
	rm "$T/order"
	printf 'to: %s\nhooks:\n  after_switch: echo "yml $CUTOVER_RELEASE" >> %s/order\n' "$ROOT" "$T" > cutover.yml
	cutover rollback "$r3"
	[ "$(cat "$T/order")" = "yml $r3" ]
}

@test "a rollback whose after_switch fails switches back (exit 4), like a deploy" {
	three_releases
	r2=$(ls "$ROOT/releases" | grep r2)
	r3=$(current_id)
	run cutover rollback --to "$ROOT" \
		--after-switch "echo \"after_switch \$CUTOVER_RELEASE\" >> '$T/order'; [ \"\$CUTOVER_RELEASE\" = '$r3' ]" \
		--after-rollback "echo \"after_rollback \$CUTOVER_RELEASE\" >> '$T/order'"
	[ "$status" -eq 4 ]
	[ "$(current_id)" = "$r3" ]
	[ "$(cat "$ROOT/current/index.html")" = v3 ]
	# the failed switch stopped at after_switch; the way back ran both for r3
	[ "$(cat "$T/order")" = "after_switch $r2
after_switch $r3
after_rollback $r3" ]
	run cutover log --to "$ROOT" --json
	[[ "$output" == *'"action":"rollback","release":"'"$r2"'","previous":"'"$r3"'","outcome":"rolled-back"'*"after_switch hook"*"failed with exit status 1"* ]]
}

@test "a deploy that switches back runs after_switch and after_rollback for the release it returns to" {
	three_releases
	r3=$(current_id)
	echo v4 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "$ROOT" --label r4 \
		--after-switch "echo \"after_switch \$CUTOVER_RELEASE\" >> '$T/order'" \
		--after-rollback "echo \"after_rollback \$CUTOVER_RELEASE\" >> '$T/order'; exit 9" \
		--check false --check-retries 0
	[ "$status" -eq 4 ]
	[ "$(current_id)" = "$r3" ]
	r4=$(grep -o '[0-9T.Z]*-r4' "$T/order" | head -1)
	[ "$(cat "$T/order")" = "after_switch $r4
after_switch $r3
after_rollback $r3" ]
	# the history names what failed, not what the hooks of the way back said
	run cutover log --to "$ROOT" --json
	[[ "$output" == *'"outcome":"rolled-back"'*"health check 'false' failed"* ]]
	[[ "$output" != *'exit status 9'* ]]
}
