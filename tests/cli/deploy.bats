#!/usr/bin/env bats
load helpers

@test "deploy of a directory makes a release and a relative current link" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 0 ]
	[[ "$output" == *deployed* ]]
	link=$(readlink "$ROOT/current")
	[[ "$link" == releases/2* ]]
	[ "$(cat "$ROOT/current/index.html")" = "<html>v1</html>" ]
	[ "$(readlink "$ROOT/current/home.html")" = index.html ]
	[ -x "$ROOT/current/run.sh" ]
}

@test "the manifest checks with sha256sum -c from inside the release" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	id=$(current_id)
	cd "$ROOT/releases/$id"
	run sha256sum -c --strict "$ROOT/.cutover/manifests/$id.sha256"
	[ "$status" -eq 0 ]
	[ "$(wc -l < "$ROOT/.cutover/manifests/$id.sha256")" -eq 5 ]
}

@test "an unchanged file is a hard link shared between releases, not a copy" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	a=$(current_id)
	echo changed > "$SRC/index.html"
	run cutover deploy "$SRC" --to "$ROOT"
	[[ "$output" == *"1 new"* ]]
	b=$(current_id)
	[ "$a" != "$b" ]
	[ "$(stat -c %i "$ROOT/releases/$a/css/site.css")" = "$(stat -c %i "$ROOT/releases/$b/css/site.css")" ]
	[ "$(stat -c %i "$ROOT/releases/$a/index.html")" != "$(stat -c %i "$ROOT/releases/$b/index.html")" ]
}

@test "release files are read-only" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	[ "$(stat -c %a "$ROOT/current/index.html")" = 444 ]
	[ "$(stat -c %a "$ROOT/current/run.sh")" = 555 ]
}

@test "same content with different modes does not share an inode" {
	echo same > "$SRC/a"; echo same > "$SRC/b"
	chmod 644 "$SRC/a"; chmod 755 "$SRC/b"
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	[ "$(stat -c %i "$ROOT/current/a")" != "$(stat -c %i "$ROOT/current/b")" ]
	[ -x "$ROOT/current/b" ]
	[ ! -x "$ROOT/current/a" ]
}

@test "same content and mode shares one inode within a release" {
	echo same > "$SRC/a"; echo same > "$SRC/b"
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	[ "$(stat -c %i "$ROOT/current/a")" = "$(stat -c %i "$ROOT/current/b")" ]
}

@test "deploy from .tar .tar.gz .tar.xz .tar.zst and .zip" {
	cutover init "$ROOT"
	tar -C "$SRC" -cf "$T/a.tar" .
	tar -C "$SRC" -czf "$T/a.tar.gz" .
	tar -C "$SRC" -cJf "$T/a.tar.xz" .
	tar -C "$SRC" --zstd -cf "$T/a.tar.zst" .
	(cd "$SRC" && zip -qry "$T/a.zip" .)
	for f in a.tar a.tar.gz a.tar.xz a.tar.zst a.zip; do
		run cutover deploy "$T/$f" --to "$ROOT"
		[ "$status" -eq 0 ] || { echo "$f: $output"; false; }
		[ "$(cat "$ROOT/current/index.html")" = "<html>v1</html>" ]
		[ "$(readlink "$ROOT/current/home.html")" = index.html ]
		[ -x "$ROOT/current/run.sh" ]
		cutover verify --to "$ROOT"
	done
}

@test "deploy of a tar stream on standard input" {
	cutover init "$ROOT"
	run bash -c "tar -C '$SRC' -c . | '$CUTOVER' deploy - --to '$ROOT'"
	[ "$status" -eq 0 ]
	[ "$(cat "$ROOT/current/js/lib/a.js")" = "console.log(1)" ]
}

@test "deploy of a git revision is labelled with its short sha" {
	git init -q "$T/repo"
	cp -a "$SRC/." "$T/repo/"
	git -C "$T/repo" add -A
	git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one
	git -C "$T/repo" tag v1.0
	echo v2 > "$T/repo/index.html"
	git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qam two
	cutover init "$ROOT"
	run cutover deploy "git:$T/repo#v1.0" --to "$ROOT"
	[ "$status" -eq 0 ]
	sha=$(git -C "$T/repo" rev-parse --short=7 v1.0)
	[[ "$(current_id)" == *-"$sha" ]]
	[ "$(cat "$ROOT/current/index.html")" = "<html>v1</html>" ]
	[ ! -e "$ROOT/current/.git" ]
	run cutover deploy "git:$T/repo" --to "$ROOT"
	[ "$(cat "$ROOT/current/index.html")" = v2 ]
}

@test "an unknown git revision is refused" {
	git init -q "$T/repo"
	cutover init "$ROOT"
	run cutover deploy "git:$T/repo#nope" --to "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown revision 'nope'"* ]]
	run cutover deploy "git:$T/nothere#v1" --to "$ROOT"
	[ "$status" -eq 1 ]
}

@test "--label names the release; a bad label is a usage error" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --label build-42
	[ "$status" -eq 0 ]
	[[ "$(current_id)" == *-build-42 ]]
	run cutover deploy "$SRC" --to "$ROOT" --label "../x"
	[ "$status" -eq 2 ]
	[[ "$output" == *"label '../x' is not valid"* ]]
}

@test "two deploys in the same second get distinct, ordered ids" {
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	[ "$(release_count)" -eq 3 ]
	[ "$(ls "$ROOT/releases" | sort | tail -1)" = "$(current_id)" ]
}

@test "--exclude leaves paths out" {
	mkdir -p "$SRC/.git" "$SRC/node_modules/.cache"
	echo x > "$SRC/.git/HEAD"; echo y > "$SRC/node_modules/.cache/z"; echo k > "$SRC/node_modules/keep.js"
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT" --exclude .git/ --exclude 'node_modules/.cache'
	[ ! -e "$ROOT/current/.git" ]
	[ ! -e "$ROOT/current/node_modules/.cache" ]
	[ -e "$ROOT/current/node_modules/keep.js" ]
}

@test "a restrictive umask does not lock the web server out" {
	mkdir -p "$SRC/sub"
	( umask 077; "$CUTOVER" init "$ROOT" && "$CUTOVER" deploy "$SRC" --to "$ROOT" )
	[ "$(stat -c %a "$ROOT")" = 755 ]
	[ "$(stat -c %a "$ROOT/releases")" = 755 ]
	[ "$(stat -c %a "$ROOT/releases/$(current_id)")" = 755 ]
	chmod 755 "$T"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$ROOT/current/index.html"
	[ "$status" -eq 0 ]
}

@test "--quiet prints only errors" {
	cutover init "$ROOT"
	run cutover deploy "$SRC" --to "$ROOT" --quiet
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run cutover rollback --to "$ROOT" -q
	[ "$status" -eq 1 ]
	[[ "$output" == *"oldest release"* ]]
}

@test "an object the stat cache vouches for but the store lost is sent again" {
	cutover init "$ROOT"
	touch -d '1 hour ago' "$SRC"/*.html "$SRC"/css/* "$SRC"/js/lib/* "$SRC"/img/* "$SRC"/run.sh
	cutover deploy "$SRC" --to "$ROOT"
	# take the object of an unchanged file away behind cutover's back
	ino=$(stat -c %i "$ROOT/current/css/site.css")
	find "$ROOT/.cutover/objects" -inum "$ino" -delete
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -eq 0 ]
	cutover verify --to "$ROOT"
	[ "$(cat "$ROOT/current/css/site.css")" = "body{}" ]
}

@test "a damaged stat cache is not trusted: every file is hashed again" {
	cutover init "$ROOT"
	sleep 2.1 # files younger than 2 s are never cached
	cutover deploy "$SRC" --to "$ROOT"
	cache=$(ls "$ROOT"/.cutover/cache/*.stat)
	grep -q 'site.css' "$cache"
	# one hex digit of a cached hash changes (a torn write, a bad sector)
	python3 - "$cache" <<-'PY'
	import sys
	p = sys.argv[1]
	lines = open(p).read().split("\n")
	i = next(n for n, l in enumerate(lines) if l.endswith("site.css"))
	lines[i] = ("1" if lines[i][0] != "1" else "2") + lines[i][1:]
	open(p, "w").write("\n".join(lines))
	PY
	echo v2 > "$SRC/index.html"
	cutover deploy "$SRC" --to "$ROOT"
	cutover verify --to "$ROOT"
	[ "$(cat "$ROOT/current/css/site.css")" = "body{}" ]
}

@test "an object is never stored under a hash its bytes do not have, even when the stat cache says so" {
	cutover init "$ROOT"
	sleep 2.1
	cutover deploy "$SRC" --to "$ROOT"
	before=$(current_id)
	cache=$(ls "$ROOT"/.cutover/cache/*.stat)
	# a well-formed cache whose hash for site.css is wrong (and so has no object)
	python3 - "$cache" <<-'PY'
	import hashlib, sys
	p = sys.argv[1]
	lines = open(p).read().split("\n")[:-2]
	i = next(n for n, l in enumerate(lines) if l.endswith("site.css"))
	lines[i] = "ab" * 32 + lines[i][64:]
	body = "".join(l + "\n" for l in lines)
	open(p, "w").write(body + "sha256 " + hashlib.sha256(body.encode()).hexdigest() + "\n")
	PY
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "$ROOT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"site.css' changed while it was being deployed"* ]]
	[ "$(current_id)" = "$before" ]
	[ -z "$(find "$ROOT/.cutover/objects" -name 'abababab*')" ]
	# the next deploy reads every file again and goes through
	cutover deploy "$SRC" --to "$ROOT"
	cutover verify --to "$ROOT"
}

@test "after a deploy that failed for another reason, unchanged files are not read again" {
	command -v strace > /dev/null || skip "strace is not installed (scripts/deps.sh test installs it)"
	strace -f -o /dev/null true 2> /dev/null || skip "ptrace is not allowed here"
	cutover init "$ROOT"
	sleep 2.1 # files younger than 2 s are never cached
	cutover deploy "$SRC" --to "$ROOT"
	echo v2 > "$SRC/index.html"
	run cutover deploy "$SRC" --to "$ROOT" --before-switch 'exit 3'
	[ "$status" -ne 0 ]
	strace -f -e trace=open,openat -o "$T/trace" "$CUTOVER" deploy "$SRC" --to "$ROOT"
	grep -q '"index.html"' "$T/trace"
	! grep -q 'site.css"' "$T/trace" || false
	cutover verify --to "$ROOT"
	[ "$(cat "$ROOT/current/index.html")" = v2 ]
}

@test "more links to one object than the file system allows: fresh copies, every release whole" {
	# 66,000 empty files share one object; ext4 allows 65,000 links per inode
	mkdir "$T/many"
	for d in $(seq 0 65); do
		mkdir "$T/many/d$d"
		(cd "$T/many/d$d" && touch $(seq -f "f%g" 0 999))
	done
	cutover init "$ROOT"
	run cutover deploy "$T/many" --to "$ROOT"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run cutover deploy "$T/many" --to "$ROOT"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for id in $(ls "$ROOT/releases"); do cutover verify "$id" --to "$ROOT" > /dev/null; done
	# no inode carries more links than the limit, and there is more than one
	[ "$(find "$ROOT/releases" -type f -printf '%i\n' | sort -u | wc -l)" -gt 1 ]
	[ "$(find "$ROOT/releases" -type f -printf '%n\n' | sort -n | tail -1)" -le 65000 ]
}

@test "every path of a wide and deep tree reaches the release (the walk runs on every CPU)" {
	for a in $(seq 1 12); do
		for b in $(seq 1 6); do
			mkdir -p "$SRC/w$a/d$b/e/f"
			echo "$a $b" > "$SRC/w$a/d$b/e/f/leaf"
			echo "$a" > "$SRC/w$a/d$b/top"
			ln -s top "$SRC/w$a/d$b/link"
		done
		mkdir "$SRC/w$a/empty"
	done
	cutover init "$ROOT"
	cutover deploy "$SRC" --to "$ROOT"
	(cd "$SRC" && find . -printf '%y %p\n' | sort) > "$T/src.list"
	(cd "$ROOT/current/" && find . -printf '%y %p\n' | sort) > "$T/rel.list"
	diff "$T/src.list" "$T/rel.list"
	cutover verify --to "$ROOT"
}

@test "a first deploy of more than 32 MiB starts its writeback ahead of the switch" {
	command -v strace > /dev/null || skip "strace is not installed (scripts/deps.sh test installs it)"
	strace -f -o /dev/null true 2> /dev/null || skip "ptrace is not allowed here"
	head -c $((40 << 20)) /dev/urandom > "$SRC/big.bin"
	cutover init "$ROOT"
	strace -f -e trace=syncfs -o "$T/trace" "$CUTOVER" deploy "$SRC" --to "$ROOT"
	[ "$(grep -c 'syncfs(' "$T/trace")" -eq 2 ] || { cat "$T/trace"; false; }
	cutover verify --to "$ROOT"
	# a small one syncs once, before the switch
	rm "$SRC/big.bin"
	cutover init "$T/small"
	strace -f -e trace=syncfs -o "$T/trace" "$CUTOVER" deploy "$SRC" --to "$T/small"
	[ "$(grep -c 'syncfs(' "$T/trace")" -eq 1 ] || { cat "$T/trace"; false; }
}
