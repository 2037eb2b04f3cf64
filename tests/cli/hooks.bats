#!/usr/bin/env bats
load helpers

@test "before_switch runs in the staged release with the environment, output prefixed" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	first=$(current_id)
	run cutover deploy "$SRC" --to "$ROOT" --before-switch 'echo "rel=$CUTOVER_RELEASE prev=$CUTOVER_PREVIOUS root=$CUTOVER_ROOT pwd=$(pwd) path=$CUTOVER_RELEASE_PATH"; echo built > built.txt'
	[ "$status" -eq 0 ]
	id=$(current_id)
	[[ "$output" == *"before_switch| rel=$id prev=$first root=$ROOT pwd=$ROOT/releases/$id path=$ROOT/releases/$id"* ]]
	[ "$(cat "$ROOT/current/built.txt")" = built ]
}

@test "a failing before_switch discards the release and leaves current untouched" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	run cutover deploy "$SRC" --to "$ROOT" --before-switch 'echo failing; exit 3'
	[ "$status" -eq 1 ]
	[[ "$output" == *"before_switch hook 'echo failing; exit 3' failed with exit status 3"* ]]
	[ "$(current_id)" = "$before" ]
	[ "$(release_count)" -eq 1 ]
	[ -z "$(ls -A "$ROOT/.cutover/staging")" ]
	run cutover log --to "$ROOT"
	[[ "$output" == *failed* ]]
}

@test "after_switch runs in the live release; its failure switches back (exit 4)" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	run cutover deploy "$SRC" --to "$ROOT" --after-switch 'readlink "$CUTOVER_ROOT/current"; exit 1' --after-rollback 'echo "rolled back to $CUTOVER_RELEASE from $CUTOVER_PREVIOUS"'
	[ "$status" -eq 4 ]
	[[ "$output" == *"after_switch| releases/"* ]]
	[[ "$output" == *"after_rollback| rolled back to $before from "* ]]
	[ "$(current_id)" = "$before" ]
	[ "$(release_count)" -eq 1 ]
}

@test "hooks from cutover.yml, as a string and as a list" {
	cutover init "$ROOT"
	cat > cutover.yml <<YML
to: $ROOT
hooks:
  before_switch:
    - echo one > one.txt
    - echo two > two.txt
  after_switch: echo "after \$CUTOVER_RELEASE" > "$T/after.txt"
YML
	run cutover deploy "$SRC"
	[ "$status" -eq 0 ]
	[ -e "$ROOT/current/one.txt" ] && [ -e "$ROOT/current/two.txt" ]
	[ "$(cat "$T/after.txt")" = "after $(current_id)" ]
}

@test "a hook that starts a background process does not keep the lock" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --after-switch "sleep 20 >/dev/null 2>&1 & echo \$! > '$T/bg.pid'"
	run cutover deploy "$SRC" --to "$ROOT"
	kill "$(cat "$T/bg.pid")" 2> /dev/null || true
	[ "$status" -eq 0 ]
}

@test "what before_switch builds is in the manifest: verify passes, then catches drift in it" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --before-switch 'mkdir -p vendor/pkg && echo lib > vendor/pkg/lib.php && rm css/site.css && ln -s vendor/pkg/lib.php lib.php'
	[ "$status" -eq 0 ]
	run cutover verify --to "$ROOT"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	id=$(current_id)
	grep -q "vendor/pkg/lib.php" "$ROOT/.cutover/manifests/$id.sha256"
	! zstdcat "$ROOT/.cutover/manifests/$id.tree.zst" | grep -q "css/site.css" || false
	echo tampered > "$ROOT/current/vendor/pkg/lib.php"
	run cutover verify --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"changed  vendor/pkg/lib.php"* ]]
}

@test "hooks of the wrong type are reported with line and column (exit 2), never ignored" {
	cutover init "$ROOT"
	printf 'to: %s\nhooks: touch %s/ran\n' "$ROOT" "$T" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cutover.yml':2:8: 'hooks' must be a mapping of before_switch, after_switch and after_rollback to commands"* ]]
	printf 'to: %s\nhooks:\n  - touch %s/ran\n' "$ROOT" "$T" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":3:3: 'hooks' must be a mapping"* ]]
	printf 'to: %s\nhooks:\n  before_switch:\n    run: touch %s/ran\n' "$ROOT" "$T" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":4:5: 'hooks.before_switch' must be a string or a list of strings"* ]]
	printf 'to: %s\nhooks:\n  after_switch:\n    - [touch, %s/ran]\n' "$ROOT" "$T" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":4:7: 'hooks.after_switch' must be a string or a list of strings"* ]]
	printf 'to: %s\nhooks:\n  after_rollback:\n    - echo one\n    -\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":5:"*"'hooks.after_rollback' has an empty item"* ]]
	[ ! -e "$T/ran" ]
	[ ! -e "$ROOT/current" ]
	# an empty 'hooks:' is no hooks, as before
	printf 'to: %s\nhooks:\n' "$ROOT" > cutover.yml
	cutover deploy "$SRC"
}
