#!/usr/bin/env bats
load helpers

two_releases() {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --label a
	A=$(current_id)
	echo changed > "$SRC/index.html"
	rm "$SRC/css/site.css"
	echo new > "$SRC/new.txt"
	chmod 700 "$SRC/run.sh"
	cutover deploy "$SRC" --to "$ROOT" --label b
	B=$(current_id)
}

@test "diff lists added, removed and changed paths" {
	two_releases
	run cutover diff "$A" "$B" --to "$ROOT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"M index.html"* ]]
	[[ "$output" == *"D css/site.css"* ]]
	[[ "$output" == *"A new.txt"* ]]
	[[ "$output" == *"M run.sh (mode)"* ]]
	[[ "$output" != *"M img/logo.png"* ]]
	run cutover diff "$A" --to "$ROOT"
	[[ "$output" == *"A new.txt"* ]]
}

@test "verify lists every drifted file and fails" {
	two_releases
	run cutover verify --to "$ROOT"
	[ "$status" -eq 0 ]
	chmod u+w "$ROOT/current/img/logo.png"
	# break the link first so the store is not corrupted for other releases
	cp "$ROOT/current/img/logo.png" "$T/l" && rm "$ROOT/current/img/logo.png" && echo tampered > "$ROOT/current/img/logo.png"
	rm "$ROOT/current/new.txt"
	echo extra > "$ROOT/current/extra.php"
	run cutover verify --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"changed  img/logo.png"* ]]
	[[ "$output" == *"missing  new.txt"* ]]
	[[ "$output" == *"extra    extra.php"* ]]
	[[ "$output" == *"3 paths drifted"* ]]
	run cutover verify "$A" --to "$ROOT" --json
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] is True' <<< "$output"
}

@test "releases shows marks and sizes; --json parses" {
	two_releases
	run cutover releases --to "$ROOT"
	[[ "$output" == *"$B"*current* ]]
	[[ "$output" == *"$A"*previous* ]]
	run cutover releases --to "$ROOT" --json
	python3 - "$A" "$B" <<PY
import json, sys
d = json.loads('''$output''')
a, b = sys.argv[1], sys.argv[2]
assert [r["id"] for r in d] == [b, a], d
assert d[0]["current"] and not d[0]["previous"] and d[0]["label"] == "b"
assert d[1]["previous"] and d[1]["unique_bytes"] > 0
PY
}

@test "log shows deploys, rollbacks and prunes with outcomes; --json parses" {
	two_releases
	cutover rollback --to "$ROOT"
	cutover prune --keep 5 --to "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --before-switch false || true
	run cutover log --to "$ROOT"
	[[ "$output" == *deploy*ok* ]]
	[[ "$output" == *rollback*ok* ]]
	[[ "$output" == *prune* ]]
	[[ "$output" == *deploy*failed*"before_switch hook 'false'"* ]]
	run cutover log --to "$ROOT" --json -n 2
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==2 and d[-1]["outcome"]=="failed", d' <<< "$output"
}

@test "status names the current release, the lock and disk use" {
	two_releases
	run cutover status --to "$ROOT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"current:   $B"* ]]
	[[ "$output" == *"previous:  $A"* ]]
	[[ "$output" == *"lock:      free"* ]]
	run cutover status --to "$ROOT" --json
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["releases"]==2 and d["lock_holder"] is None, d' <<< "$output"
}

@test "a manifest whose two files disagree is reported, not trusted" {
	two_releases
	m="$ROOT/.cutover/manifests/$B.sha256"
	chmod u+w "$m"
	sed -i '2d' "$m"
	run cutover verify --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$B.sha256' line 2 does not match the release tree"* ]]
	run cutover diff "$A" "$B" --to "$ROOT"
	[ "$status" -eq 1 ]
}
