#!/usr/bin/env bats
load helpers

deploy_n() {
	for i in $(seq "$1"); do
		echo "$i" > "$SRC/n.txt"
		cutover deploy "$SRC" --to "$ROOT" "${@:2}" > /dev/null
	done
}

@test "deploy keeps the newest 10 releases by default" {
	cutover init "$ROOT"
	deploy_n 12
	[ "$(release_count)" -eq 10 ]
	[ "$(ls "$ROOT/.cutover/manifests" | wc -l)" -eq 20 ]
}

@test "--keep N keeps N and never the live or the previous one" {
	cutover init "$ROOT"
	deploy_n 4 --keep 2
	[ "$(release_count)" -eq 2 ]
	cutover rollback --to "$ROOT"
	old=$(current_id)
	deploy_n 1 --keep 1
	# live and previous survive --keep 1
	[ "$(release_count)" -eq 2 ]
}

@test "a pinned release is never pruned; unpin lets it go" {
	cutover init "$ROOT"
	deploy_n 1
	first=$(current_id)
	cutover pin "$first" --to "$ROOT"
	deploy_n 5
	cutover prune --keep 2 --to "$ROOT"
	[ -d "$ROOT/releases/$first" ]
	run cutover releases --to "$ROOT"
	[[ "$output" == *"$first"*pinned* ]]
	cutover unpin "$first" --to "$ROOT"
	cutover prune --keep 2 --to "$ROOT"
	[ ! -d "$ROOT/releases/$first" ]
	run cutover unpin "$first" --to "$ROOT"
	[ "$status" -eq 1 ]
}

@test "prune removes objects no release uses" {
	cutover init "$ROOT"
	head -c 100000 /dev/urandom > "$SRC/big.bin"
	cutover deploy "$SRC" --to "$ROOT"
	rm "$SRC/big.bin"
	deploy_n 3
	objects_before=$(find "$ROOT/.cutover/objects" -type f | wc -l)
	run cutover prune --keep 1 --to "$ROOT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pruned"* ]]
	objects_after=$(find "$ROOT/.cutover/objects" -type f | wc -l)
	[ "$objects_after" -lt "$objects_before" ]
	# every remaining release still verifies
	for id in $(ls "$ROOT/releases"); do cutover verify "$id" --to "$ROOT"; done
	# and nothing but objects went: the history and the lock file are whole
	[ -f "$ROOT/.cutover/lock" ]
	run cutover log --to "$ROOT" --json
	[ "$(grep -o '"action":"deploy"' <<< "$output" | wc -l)" -eq 4 ]
	[ "$(grep -o '"action":"prune"' <<< "$output" | wc -l)" -eq 1 ]
}

@test "a failed deploy never leaves a release and never counts" {
	cutover init "$ROOT"
	deploy_n 2 --keep 2
	for i in 1 2 3; do
		run cutover deploy "$SRC" --to "$ROOT" --keep 2 --before-switch false
		[ "$status" -eq 1 ]
	done
	[ "$(release_count)" -eq 2 ]
}

@test "--keep 0 is refused" {
	cutover init "$ROOT"
	run cutover prune --keep 0 --to "$ROOT"
	[ "$status" -eq 2 ]
}

@test "the prune after a deploy is in the history, marked automatic, with what it removed" {
	cutover init "$ROOT"
	deploy_n 4 --keep 2
	ids=($(ls "$ROOT/releases"))
	run cutover log --to "$ROOT" --json
	[ "$status" -eq 0 ]
	# deploys 1 and 2 removed nothing and left no prune line; 3 and 4 one each
	[ "$(grep -o '"action":"prune"' <<< "$output" | wc -l)" -eq 2 ]
	[[ "$output" == *'"action":"prune","outcome":"ok"'*'"message":"automatic, after the deploy of '*': removed '* ]]
	[[ "$output" == *"automatic, after the deploy of ${ids[1]}: removed "* ]]
	run cutover log --to "$ROOT"
	[[ "$output" == *" prune "*"automatic, after the deploy of ${ids[1]}: removed "* ]]
}

@test "a prune after a deploy that fails is in the history as failed, with its reason" {
	cutover init "$ROOT"
	deploy_n 3
	oldest=$(ls "$ROOT/releases" | head -1)
	chattr +i "$ROOT/releases/$oldest/css"
	run cutover deploy "$SRC" --to "$ROOT" --keep 1
	chattr -i "$ROOT/.cutover/staging/$oldest.removing/css" "$ROOT/releases/$oldest/css" 2> /dev/null || true
	[ "$status" -eq 0 ]
	run cutover log --to "$ROOT" --json
	[[ "$output" == *'"action":"prune","outcome":"failed"'*'"message":"automatic, after the deploy of '*'; failed: cannot remove '* ]]
}
