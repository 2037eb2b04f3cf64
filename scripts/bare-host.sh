#!/bin/bash
# The "bare host" of the remote tests: a minimal Debian 12 (bookworm) root
# with nothing but debootstrap's minbase and openssh-server, so a test can
# prove that a binary runs on a machine where none of cutover's build or
# runtime libraries are installed.
#
# usage: scripts/bare-host.sh build     make the root once (about 40 s), reuse it after
#        scripts/bare-host.sh rebuild   throw the cached root away and build it again
#        scripts/bare-host.sh check     fail unless the root is complete and bare
#        scripts/bare-host.sh path      print the root's path (it must be built)
#        scripts/bare-host.sh remove    delete the cached root
#
# The root lives outside the repository, in $CUTOVER_BARE_CACHE
# (/var/cache/cutover-tests by default), as bare-bookworm/. It is built in a
# temporary directory next to it and renamed into place only after the stamp
# file is written and the bareness check passed, so a killed build leaves
# either no root or the old one, never a half root that looks complete.
# debootstrap runs in a private mount namespace: the /proc and /dev mounts it
# makes in the target go away with it, even after a kill -9.
#
# Tests never write into this root: tests/e2e/hosts.bash mounts it as the
# read-only lower layer of a per-run overlay (see docs/testing.md).
set -euo pipefail

CACHE=${CUTOVER_BARE_CACHE:-/var/cache/cutover-tests}
SUITE=bookworm
NAME=bare-$SUITE
ROOT=$CACHE/$NAME
STAMP=.cutover-bare-complete
LOCK=$CACHE/$NAME.lock
# Packages that must not be on the bare host: the libraries cutover is built
# with, and anything to build with.
FORBIDDEN_RE='^(libyaml|libhttp-parser|libarchive)|^(gcc|cpp)(-[0-9]+)?$|^make$|-dev$'

say() { echo "bare-host: $*"; }
die() { echo "bare-host: $*" >&2; exit 1; }

# The Debian mirror this machine's apt uses for $SUITE: the first URI of a
# deb822 stanza (sources.list.d/*.sources) or a one-line entry
# (sources.list, sources.list.d/*.list) that lists the suite itself.
# CUTOVER_BARE_MIRROR overrides it.
apt_mirror() {
	if [ -n "${CUTOVER_BARE_MIRROR:-}" ]; then
		echo "$CUTOVER_BARE_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# One stanza per paragraph; comments skipped; Enabled: no skipped.
		uri=$(awk -v suite="$SUITE" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uris != "") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = suites = uris = ""; enabled = "yes"
			}
			BEGIN { enabled = "yes" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "suites") suites = val
				else if (key == "uris") uris = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { if (!found) flush() }' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		uri=$(awk -v suite="$SUITE" '
			$1 != "deb" { next }
			{ i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
			$(i + 1) == suite { print $i; exit }' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
	die "no apt source for '$SUITE' in /etc/apt/sources.list or /etc/apt/sources.list.d; set CUTOVER_BARE_MIRROR=http://your-debian-mirror/debian"
}

# Fail unless DIR is a bare root: Debian 12, sshd present, none of the
# forbidden packages installed and none of their libraries on disk.
check_root() { # DIR
	local dir=$1 bad libs
	[ -f "$dir/etc/debian_version" ] || die "'$dir' is not a Debian root (no etc/debian_version); run: scripts/bare-host.sh rebuild"
	case $(cat "$dir/etc/debian_version") in
	12.*) ;;
	*) die "'$dir' is Debian $(cat "$dir/etc/debian_version"), not 12; run: scripts/bare-host.sh rebuild" ;;
	esac
	[ -x "$dir/usr/sbin/sshd" ] || die "'$dir' has no usr/sbin/sshd; run: scripts/bare-host.sh rebuild"
	bad=$(dpkg-query --admindir="$dir/var/lib/dpkg" -W -f '${Package} ${db:Status-Abbrev}\n' |
		awk '$2 ~ /^.i/ { print $1 }' | sed 's/:.*//' | grep -E "$FORBIDDEN_RE" || true)
	[ -z "$bad" ] || die "'$dir' is not bare, it has: ${bad//$'\n'/ }; run: scripts/bare-host.sh rebuild"
	libs=$(find "$dir/usr/lib" "$dir/lib" -maxdepth 2 \( -name 'libyaml*' -o -name 'libhttp_parser*' -o -name 'libarchive*' \) 2>/dev/null || true)
	[ -z "$libs" ] || die "'$dir' is not bare, it has: ${libs//$'\n'/ }; run: scripts/bare-host.sh rebuild"
}

# Remove temporary roots left by killed builds. Called with the lock held, so
# no build is running. --one-file-system: never follow a mount out of it.
remove_stale() {
	local d
	for d in "$CACHE/$NAME".tmp.* "$CACHE/$NAME".old.*; do
		[ -e "$d" ] || continue
		[ -d "$d" ] || { rm -f "$d"; continue; }
		say "removing '$d' left by an interrupted build"
		rm -rf --one-file-system "$d"
	done
}

build() {
	local mirror tmp start
	if [ -f "$ROOT/$STAMP" ]; then
		check_root "$ROOT"
		say "reusing $ROOT (built $(cat "$ROOT/$STAMP"))"
		return
	fi
	command -v debootstrap > /dev/null || PATH=$PATH:/usr/sbin:/sbin
	command -v debootstrap > /dev/null || die "debootstrap is not installed; run: scripts/deps.sh test"
	mirror=$(apt_mirror)
	remove_stale
	if [ -e "$ROOT" ]; then
		say "removing incomplete $ROOT (no stamp file)"
		rm -rf --one-file-system "$ROOT"
	fi
	tmp=$(mktemp -d "$CACHE/$NAME.tmp.XXXXXX")
	start=$(date +%s)
	say "debootstrap --variant=minbase --include=openssh-server $SUITE into $tmp from $mirror"
	# unshare -m: the mounts debootstrap makes in the target stay in this
	# private namespace and vanish with it, whatever happens to debootstrap.
	if ! unshare --mount --propagation private \
		debootstrap --variant=minbase --include=openssh-server \
		"$SUITE" "$tmp" "$mirror" > "$tmp.log" 2>&1; then
		tail -n 20 "$tmp.log" >&2
		rm -rf --one-file-system "$tmp"
		die "debootstrap failed (log above, full log in $tmp.log); is $mirror reachable?"
	fi
	# Leave nothing that varies between builds or is not needed: the package
	# cache and lists (the tests install nothing there).
	rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"* "$tmp/debootstrap"
	check_root "$tmp"
	date -u +%Y-%m-%dT%H:%M:%SZ > "$tmp/$STAMP"
	chmod 755 "$tmp"
	sync -f "$tmp/$STAMP"
	mv -T "$tmp" "$ROOT"
	sync -f "$CACHE"
	rm -f "$tmp.log"
	say "built $ROOT in $(($(date +%s) - start)) s"
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mounts)"
cmd=${1:-}
case $cmd in
build | rebuild | remove)
	mkdir -p "$CACHE"
	# One builder at a time: parallel test runs wait here for the first.
	exec 9> "$LOCK"
	if ! flock -n 9; then
		say "waiting for another build of $ROOT (lock $LOCK)"
		flock 9
	fi
	if [ "$cmd" != build ] && [ -e "$ROOT" ]; then
		# Renamed away first: the root is gone at once, never half deleted.
		old=$(mktemp -u "$CACHE/$NAME.old.XXXXXX")
		mv -T "$ROOT" "$old"
		say "removing $ROOT"
		rm -rf --one-file-system "$old"
	fi
	[ "$cmd" = remove ] || build
	;;
check)
	[ -f "$ROOT/$STAMP" ] || die "'$ROOT' is not built; run: scripts/bare-host.sh build"
	check_root "$ROOT"
	say "$ROOT is complete and bare: Debian $(cat "$ROOT/etc/debian_version")"
	;;
path)
	[ -f "$ROOT/$STAMP" ] || die "'$ROOT' is not built; run: scripts/bare-host.sh build"
	echo "$ROOT"
	;;
*)
	echo "usage: scripts/bare-host.sh build|rebuild|check|path|remove" >&2
	exit 2
	;;
esac
