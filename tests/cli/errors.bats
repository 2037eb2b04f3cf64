#!/usr/bin/env bats
load helpers

# Every bad input: a specific message, a documented exit code, and the live
# site exactly as it was.

live_before() {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	BEFORE=$(readlink "$ROOT/current")
	COUNT=$(release_count)
}

unchanged() {
	[ "$(readlink "$ROOT/current")" = "$BEFORE" ]
	[ "$(release_count)" -eq "$COUNT" ]
	[ -z "$(ls -A "$ROOT/.cutover/staging")" ]
}

@test "a missing source" {
	live_before
	run cutover deploy "$T/nothere" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"source '$T/nothere' does not exist"* ]]
	unchanged
}

@test "a target that is not a cutover root" {
	mkdir "$T/plain"
	run cutover deploy "$SRC" --to "$T/plain"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a cutover root"*"cutover init"* ]]
}

@test "no target at all is a usage error" {
	run cutover deploy "$SRC"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no target"* ]]
}

@test "an unknown option is a usage error" {
	run cutover deploy "$SRC" --to "$ROOT" --frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option '--frobnicate'"* ]]
	run cutover nosuchcommand
	[ "$status" -eq 2 ]
}

@test "an archive entry with .. is refused" {
	live_before
	python3 - "$T/evil.tar" <<'PY'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned"
    i = tarfile.TarInfo("../../etc/evil"); i.size = len(data)
    t.addfile(i, io.BytesIO(data))
PY
	run cutover deploy "$T/evil.tar" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"contains '..'"* ]]
	[ ! -e "$T/etc/evil" ]
	unchanged
}

@test "an archive entry with an absolute path is refused" {
	live_before
	python3 - "$T/abs.tar" <<'PY'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w") as t:
    data = b"x"
    i = tarfile.TarInfo("/tmp/abs-evil"); i.size = 1
    t.addfile(i, io.BytesIO(data))
PY
	run cutover deploy "$T/abs.tar" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"absolute path"* ]]
	unchanged
}

@test "a symlink pointing outside the release is refused (directory and archive)" {
	live_before
	ln -s /etc/passwd "$SRC/passwd"
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"symlink 'passwd' points outside the release"* ]]
	rm "$SRC/passwd"
	ln -s ../../../etc "$SRC/css/up"
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"points outside"* ]]
	unchanged
}

@test "a chain of symlinks that leaves the release is refused" {
	live_before
	mkdir -p "$SRC/x"
	ln -s .. "$SRC/x/y"          # x/y -> the release root: fine alone
	ln -s x/y/.. "$SRC/escape"    # through x/y this is the root's parent
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"symlink 'escape' points outside"* ]]
	unchanged
}

@test "an archive that writes through its own symlink is refused" {
	live_before
	python3 - "$T/through.tar" <<'PY'
import tarfile, io, sys
with tarfile.open(sys.argv[1], "w") as t:
    l = tarfile.TarInfo("d"); l.type = tarfile.SYMTYPE; l.linkname = "css"
    t.addfile(l)
    i = tarfile.TarInfo("d/x"); i.size = 1
    t.addfile(i, io.BytesIO(b"x"))
PY
	run cutover deploy "$T/through.tar" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'d/x' is inside 'd', which is a symlink"* ]]
	unchanged
}

@test "a device file is refused (directory and archive)" {
	live_before
	mknod "$SRC/null" c 1 3
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'null' is a device file"* || "$output" == *"/null' is a device file"* ]]
	tar -C "$SRC" -cf "$T/dev.tar" .
	run cutover deploy "$T/dev.tar" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is a device file"* ]]
	unchanged
}

@test "a file that is not an archive is refused" {
	live_before
	echo "just text" > "$T/notes.txt"
	run cutover deploy "$T/notes.txt" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read archive"* ]]
	unchanged
}

@test "an unreadable file in the source is named" {
	live_before
	echo secret > "$SRC/secret.txt"
	deploy_unreadable "$SRC/secret.txt"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read '$SRC/secret.txt': Permission denied"* ]]
	unchanged
}

@test "an unreadable directory deep in the source is named" {
	live_before
	for d in a b c; do mkdir -p "$SRC/$d/1/2"; echo "$d" > "$SRC/$d/1/2/f.txt"; done
	mkdir "$SRC/b/1/2/locked"
	echo hidden > "$SRC/b/1/2/locked/x.txt"
	deploy_unreadable "$SRC/b/1/2/locked"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot read directory '$SRC/b/1/2/locked': Permission denied"* ]]
	unchanged
}

@test "a release id that does not exist" {
	live_before
	run cutover rollback 20200101T000000Z --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no release '20200101T000000Z'"* ]]
	run cutover rollback not-an-id --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a release id"* ]]
	run cutover verify 20200101T000000Z --to "$ROOT"
	[ "$status" -eq 1 ]
	run cutover diff 20200101T000000Z --to "$ROOT"
	[ "$status" -eq 1 ]
	unchanged
}

@test "an empty source is refused" {
	live_before
	mkdir "$T/empty"
	run cutover deploy "$T/empty" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is empty"* ]]
	unchanged
}

@test "a source that contains the deploy root is refused" {
	live_before
	run cutover deploy "$T" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"contains the deploy root"* ]]
	run cutover deploy "$ROOT" --to "$ROOT"
	[ "$status" -eq 1 ]
	unchanged
}

@test "a source inside the root (.cutover/, releases/, current, shared/) is refused" {
	live_before
	id=$(current_id)
	mkdir -p "$ROOT/shared/build" "$ROOT/.cutover/cache/build"
	cp -a "$SRC/." "$ROOT/shared/build/"
	cp -a "$SRC/." "$ROOT/.cutover/cache/build/"
	for s in "$ROOT/releases/$id" "$ROOT/releases/$id/css" "$ROOT/current/" "$ROOT/current/js/lib"; do
		run cutover deploy "$s" --to "$ROOT"
		[ "$status" -eq 1 ] || { echo "$s: $output"; false; }
		[[ "$output" == *"source '$s' is a release of the deploy root '$ROOT' (or inside one); to make a release live again use 'cutover rollback ID --to $ROOT'"* ]]
	done
	for d in shared .cutover; do
		run cutover deploy "$ROOT/$d" --to "$ROOT"
		[ "$status" -eq 1 ]
		[[ "$output" == *"source '$ROOT/$d' is inside '$ROOT/$d', which cutover keeps for the deploy root; deploy a build directory outside '$ROOT'"* ]]
	done
	run cutover deploy "$ROOT/shared/build" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is inside '$ROOT/shared'"* ]]
	run cutover deploy "$ROOT/.cutover/cache/build" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is inside '$ROOT/.cutover'"* ]]
	# through a link, and with the root named through one
	ln -s "$ROOT/shared/build" "$T/build-link"
	ln -s "$ROOT" "$T/root-link"
	run cutover deploy "$T/build-link" --to "$ROOT"
	[ "$status" -eq 1 ]
	run cutover deploy "$ROOT/releases/$id" --to "$T/root-link"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is a release of the deploy root"* ]]
	unchanged
	# a build directory elsewhere in the root is the user's own
	mkdir "$ROOT/build" && cp -a "$SRC/." "$ROOT/build/"
	run cutover deploy "$ROOT/build" --to "$ROOT"
	[ "$status" -eq 0 ]
}
