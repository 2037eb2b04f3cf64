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

# big_release_verify_stopped: a big release OLD, two more after it, and
# `cutover verify OLD` stopped (PID) while it reads the release
big_release_verify_stopped() {
	cutover init "$ROOT"
	mkdir -p "$T/big"
	# 32 MiB to hash first (a/ sorts first), then small files: verify reads for a while
	python3 -c '
import os, sys
os.makedirs(f"{sys.argv[1]}/a", exist_ok=True)
for f in range(8):
    with open(f"{sys.argv[1]}/a/big{f}", "wb") as o: o.write(os.urandom(4 << 20))
for d in range(10):
    os.makedirs(f"{sys.argv[1]}/d{d}", exist_ok=True)
    for f in range(50):
        with open(f"{sys.argv[1]}/d{d}/f{f}.txt", "w") as o: o.write(f"{d} {f}\n" * 40)
' "$T/big"
	cutover deploy -q "$T/big" --to "$ROOT"
	OLD=$(current_id)
	for i in 2 3; do echo "$i" > "$SRC/n.txt"; cutover deploy -q "$SRC" --to "$ROOT"; done
	"$CUTOVER" verify "$OLD" --to "$ROOT" > "$T/verify.out" 2>&1 &
	PID=$!
	# stop it once it has the release open (it reads it through that descriptor)
	for i in $(seq 2000); do
		ls -l "/proc/$PID/fd" 2> /dev/null | grep -q "$ROOT/releases/$OLD\$" && break
		sleep 0.005
	done
	kill -STOP "$PID" 2> /dev/null && ls -l "/proc/$PID/fd" | grep -q "$ROOT/releases/$OLD\$" || {
		kill -CONT "$PID"; wait "$PID" || true; cat "$T/verify.out"
		echo "verify was not caught reading"; false; }
}

@test "verify of a release that a prune removes meanwhile names the prune, not drift" {
	big_release_verify_stopped
	cutover prune -q --keep 1 --to "$ROOT"
	[ ! -e "$ROOT/releases/$OLD" ]
	kill -CONT "$PID"
	rc=0; wait "$PID" || rc=$?
	cat "$T/verify.out"
	[ "$rc" -eq 1 ]
	grep -q "error: release '$OLD' was removed while it was being verified, by a prune that has finished (see 'cutover log --to $ROOT'); its files are gone, not drifted" "$T/verify.out"
	! grep -q "drifted from the manifest\|^missing" "$T/verify.out" || false
}

@test "verify of a release that a prune is removing names the prune that holds the lock" {
	big_release_verify_stopped
	# a prune half way: the release moved out of releases/, its deletion under way, the lock held
	mv "$ROOT/releases/$OLD" "$ROOT/.cutover/staging/$OLD.removing"
	rm -r "$ROOT/.cutover/staging/$OLD.removing/"*
	flock "$ROOT/.cutover/lock" sh -c "echo 'root@test pid 4242 since 2026-01-01T00:00:00Z (cutover prune --keep 1)' > '$ROOT/.cutover/lock'; sleep 5" &
	holder=$!
	for i in $(seq 100); do grep -q 4242 "$ROOT/.cutover/lock" && break; sleep 0.02; done
	kill -CONT "$PID"
	rc=0; wait "$PID" || rc=$?
	kill "$holder" 2> /dev/null || true
	wait "$holder" || true
	cat "$T/verify.out"
	[ "$rc" -eq 1 ]
	grep -q "error: release '$OLD' was removed while it was being verified, by the prune of root@test pid 4242 since 2026-01-01T00:00:00Z (cutover prune --keep 1); its files are gone, not drifted" "$T/verify.out"
	! grep -q "drifted from the manifest\|^missing" "$T/verify.out" || false
}

@test "verify still reports drift in a release that stays" {
	cutover init "$ROOT"
	cutover deploy -q "$SRC" --to "$ROOT"
	rm "$ROOT/current/css/site.css"
	run cutover verify --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing  css/site.css"* ]]
	[[ "$output" == *"1 path drifted from the manifest"* ]]
	[[ "$output" != *"removed while"* ]]
}
