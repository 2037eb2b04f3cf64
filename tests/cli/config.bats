#!/usr/bin/env bats
load helpers

@test "cutover.yml supplies the target and options; flags win" {
	cutover init "$ROOT"
	cat > cutover.yml <<YML
to: $ROOT
keep: 2
label: fromconfig
YML
	for i in 1 2 3; do cutover deploy "$SRC"; done
	[ "$(release_count)" -eq 2 ]
	[[ "$(current_id)" == *-fromconfig ]]
	cutover deploy "$SRC" --label fromflag
	[[ "$(current_id)" == *-fromflag ]]
}

@test "--config names another file" {
	cutover init "$ROOT"
	echo "to: $ROOT" > "$T/other.yml"
	run cutover deploy "$SRC" --config "$T/other.yml"
	[ "$status" -eq 0 ]
	run cutover deploy "$SRC" --config "$T/missing.yml"
	[ "$status" -eq 2 ]
}

@test "a malformed cutover.yml is reported with line and column (exit 2)" {
	cutover init "$ROOT"
	printf 'to: %s\nkeep: [1, 2\nlabel: x\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cutover.yml"*":"[0-9]*":"[0-9]* ]]
	[ ! -e "$ROOT/current" ]
}

@test "a wrong type or an unknown key in cutover.yml is named with its place" {
	cutover init "$ROOT"
	printf 'to: %s\nkeep: many\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *":2:"*"keep"* ]]
	printf 'to: %s\nsahred: [a]\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"sahred"*"shared"* ]]
	printf 'to: %s\nlink_mode: teleport\n' "$ROOT" > cutover.yml
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"hardlink, reflink or copy"* ]]
}

@test "link_mode copy makes independent files" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --link-mode copy
	[ "$(stat -c %h "$ROOT/current/index.html")" -eq 1 ]
	cutover verify --to "$ROOT"
}
