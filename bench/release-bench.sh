#!/usr/bin/env bash
# release-bench.sh: how fast cutover builds a release, and how much disk it
# takes, compared with copying the tree with cp -a, hard-linking it with
# cp -al, and rsync -a --link-dest.
#
# usage: bench/release-bench.sh        (from `make bench`, which builds ./cutover)
#
# Environment (defaults in brackets):
#   CUTOVER      binary to test [./cutover of this repository]
#   BENCH_TMP    parent of the scratch directory [/var/tmp]; everything measured
#                (source tree, roots, copies) lives on this one file system
#   BENCH_RUNS   runs of each measurement; the median is reported [5]
#   BENCH_FILES, BENCH_MIB, BENCH_DIRS, BENCH_SEED
#                the generated tree [20000 files, 200 MiB, 2000 directories, seed 42]
#   BENCH_LOG    append every measured command's output to this file [none]
#
# Method
#   * bench/gentree.py writes a reproducible tree: nested directories, mostly
#     small files of log-normal sizes, 30 large ones, some empty files and
#     duplicates, a few executables and symlinks. Same seed, same bytes.
#   * The measurements run round-robin: round 1 of every measurement, then
#     round 2, ..., so that noise from other work on the machine spreads over
#     all of them rather than hitting one.
#   * cp -al links a copy of the tree made once at setup (same bytes, modes,
#     mtimes), never the source tree itself: linking a file changes its ctime,
#     and a source whose every ctime changed between two deploys defeats
#     cutover's stat cache (keyed on size, inode, mtime and ctime), which
#     would then re-hash all 20,000 files. Nothing else writes to the source.
#   * Before every timed run: `sync` (so no measurement pays for the previous
#     one's writeback; cutover's own syncfs() would otherwise flush it), then
#     both trees are read into the page cache (every file, every inode).
#     Every measurement therefore starts from the same warm source and a clean
#     file system. Destinations are always fresh directories.
#   * Wall time comes from bash's `time`; "cpu s" is user + system time of the
#     command, which other load on the machine disturbs less than wall time.
#   * Disk added is measured with `du -sk`, which counts every inode once per
#     invocation however many hard links it has:
#       - cp -a, first deploy: du of the new directory / the root after, minus
#         before (a fresh root is a few KiB).
#       - cp -al, rsync --link-dest: `du -sk OLD NEW` and take NEW's line: du
#         has already counted the inodes shared with OLD, so NEW's line is
#         exactly what NEW adds (its directories, its symlinks, changed files).
#       - cutover after one changed file: du -sk of the whole root before and
#         after the deploy. The root holds every release and the object store,
#         so the difference is what the new release really costs: its
#         directories (4 KiB each on ext4), the new object, the manifests
#         .cutover/manifests/<id>.tree and .sha256, the rewritten stat cache
#         and the history line. Hard links to existing objects add nothing.
#         The last run's split (directories / manifests / objects) is printed
#         under the table.
#   * "one file changed": the first file (in sorted order) of 8-16 KiB gets a
#     new first line of the same length each round: same size, new bytes, new
#     mtime. The tree is older than the stat cache's 2 s safety margin, so
#     cutover re-hashes only that file.
#   * Nothing is deleted until all the copies and deploys are measured: every
#     run writes to a new directory, and removal waits for the end. On ext4
#     without a journal (this bench's first home), the inode allocator skips
#     inodes freed in the last 60 s (ialloc.c, recently_deleted()) and scans
#     past each of them on every mkdir and create: after an `rm -rf` of 20,000
#     files, creating the next tree's 2,000 directories took 1-1.5 s instead
#     of 0.05-0.1 s, whichever tool made them.
#   * cutover "one file changed" runs with the default --keep 10 and never
#     prunes (the root holds at most 2 + BENCH_RUNS releases). Pruning is
#     measured last, on that root, with `cutover prune --keep N` removing one
#     release (20,000 links, 2,000 directories) and its unique objects each
#     run: the work that deploy does at its end once a site has more than
#     --keep releases. The "steady state" verdict adds the two medians.
#
# The verdict compares medians with the targets and prints MISSED for each one
# missed. The script still exits 0: a benchmark reports, it does not fail. It
# exits non-zero only when a command it measures fails.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
CUTOVER=${CUTOVER:-$repo/cutover}
RUNS=${BENCH_RUNS:-5}
FILES=${BENCH_FILES:-20000}
MIB=${BENCH_MIB:-200}
DIRS=${BENCH_DIRS:-2000}
SEED=${BENCH_SEED:-42}
TMPBASE=${BENCH_TMP:-/var/tmp}

die() { echo "release-bench: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

[ -x "$CUTOVER" ] || die "no cutover binary at $CUTOVER (run 'make bench')"
for t in python3 rsync du cp sync awk; do
	command -v "$t" >/dev/null || die "'$t' is needed (scripts/deps.sh bench installs it)"
done

work=$(mktemp -d "$TMPBASE/cutover-bench.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${work:-}" ] && [ -d "$work" ]; then
		log "removing $work"
		rm -rf "$work" 2>/dev/null || { chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"; }
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

src=$work/src
src_cpal=$work/src-cpal
declare -A WALL CPU DISK

# settle: flush everything dirty, then read both source trees into the page cache
settle() {
	sync
	find "$src" "$src_cpal" -type f -print0 | xargs -0 cat >/dev/null
}

# timed NAME CMD...: run CMD once, append wall and cpu seconds to NAME's samples.
# The command's own output goes to $work/out (shown if it fails).
timed() {
	local name=$1
	shift
	local TIMEFORMAT='%R %U %S' t wall user sys
	if ! { time "$@" >"$work/out" 2>&1; } 2>"$work/time"; then
		cat "$work/out" >&2
		die "'$*' failed"
	fi
	read -r wall user sys <"$work/time"
	if [ -n "${BENCH_LOG:-}" ]; then
		{ echo "## $name: $wall s"; cat "$work/out"; } >>"$BENCH_LOG"
	fi
	WALL[$name]+="$wall "
	CPU[$name]+="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }') "
	LAST_WALL=$wall
}

# add_to NAME VALUE: append VALUE to NAME's sample list, for numbers timed
# outside `timed` (cp followed by sync).
add_to() { WALL[$1]+="$2 "; }

disk() { DISK[$1]+="$2 "; }

du_k() { du -sk "$@" | awk '{ print $1 }'; }

# KiB the last of several paths adds beyond the ones before it (hard links counted once)
du_added() { du -sk "$@" | tail -n 1 | awk '{ print $1 }'; }

now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }

# "ext4 without a journal (/dev/vda)": what the results depend on
fs_desc() {
	local type dev
	type=$(df -T "$work" | awk 'NR == 2 { print $2 }')
	dev=$(df "$work" | awk 'NR == 2 { print $1 }')
	if [ "$type" = ext4 ] && [ -r "/sys/fs/ext4/${dev##*/}/journal_task" ]; then
		if grep -q none "/sys/fs/ext4/${dev##*/}/journal_task"; then
			type="ext4 without a journal"
		else
			type="ext4 with a journal"
		fi
	fi
	local dio=/sys/block/${dev##*/}/loop/dio
	if [ -r "$dio" ]; then
		# a loop device without direct I/O caches every block twice (its
		# own page cache and the backing file's) and writes it back twice
		if [ "$(cat "$dio")" = 1 ]; then dev="$dev, direct I/O"; else dev="$dev, buffered: losetup --direct-io=on is closer to a disk"; fi
	fi
	echo "$type ($dev)"
}

# stats "x y z": median min max
stats() {
	printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

change_file() { # change_file TAG: same size, new first 32 bytes, new mtime
	printf '%-31.31s\n' "bench change $1 $$" | dd of="$changed" conv=notrunc status=none
}

expect() { # expect NAME PATTERN: the last command's output must match
	grep -Eq "$2" "$work/out" || { cat "$work/out" >&2; die "$1: output does not match /$2/"; }
}

# ---------------------------------------------------------------- setup
log "cutover $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs, kernel $(uname -r)"
log "scratch directory $work on $(fs_desc)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average at start: $load_start"
bench_start=$(now)

log "generating the tree (seed $SEED)"
tree_info=$(python3 "$here/gentree.py" "$src" --files "$FILES" --mib "$MIB" --dirs "$DIRS" --seed "$SEED")
log "tree: $tree_info"
changed=$(find "$src" -type f -size +8k -size -17k | sort | awk 'NR == 1')
[ -n "$changed" ] || die "the generated tree has no file of 8-16 KiB to change"
log "the one changed file: ${changed#"$src"/} ($(stat -c %s "$changed") bytes)"
src_k=$(du_k "$src")
cp -a "$src" "$src_cpal" # what cp -al links (see Method)

# the root that the "one file changed" runs deploy into: two releases of the
# tree already, so that prune has one to remove after the last round
settle
"$CUTOVER" --quiet init "$work/root-one" >/dev/null
sleep 2.1 # older than the stat cache's 2 s margin, or nothing would be cached
for i in 1 2; do
	[ "$i" = 1 ] || change_file "setup-$i"
	"$CUTOVER" deploy "$src" --to "$work/root-one" >"$work/out" 2>&1 ||
		{ cat "$work/out" >&2; die "deploy failed"; }
done
# the previous "release" of the rsync peer: the tree as it was before the change
rsync -a "$src/" "$work/rsync-prev/"
change_file setup-last
sleep 2.1

# ---------------------------------------------------------------- rounds
for r in $(seq 1 "$RUNS"); do
	log "round $r/$RUNS"

	# cp -a: a full copy (timed alone and with the sync that makes it durable)
	settle
	t0=$(now)
	timed "cp -a" cp -a "$src" "$work/cpa-$r"
	sync
	add_to "cp -a, then sync" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')"
	k=$(du_k "$work/cpa-$r")
	disk "cp -a" "$k"
	disk "cp -a, then sync" "$k"

	# cp -al: a tree of hard links to the source files
	settle
	t0=$(now)
	timed "cp -al" cp -al "$src_cpal" "$work/cpal-$r"
	sync
	add_to "cp -al, then sync" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')"
	k=$(du_added "$src_cpal" "$work/cpal-$r")
	disk "cp -al" "$k"
	disk "cp -al, then sync" "$k"

	# cutover, first deploy into a fresh root
	"$CUTOVER" --quiet init "$work/root-first-$r" >/dev/null
	before=$(du_k "$work/root-first-$r")
	settle
	timed "cutover deploy, first" "$CUTOVER" deploy "$src" --to "$work/root-first-$r"
	expect "first deploy" '^deployed [^ ]+: '"$FILES"' files'
	disk "cutover deploy, first" $(($(du_k "$work/root-first-$r") - before))

	# cutover, one file changed since the last deploy (default --keep: no prune)
	change_file "round-$r"
	before=$(du_k "$work/root-one")
	settle
	timed "cutover deploy, 1 file changed" "$CUTOVER" deploy "$src" --to "$work/root-one"
	expect "one-file deploy" ', 1 new \('
	! grep -q pruned "$work/out" || die "the one-file deploy pruned; raise --keep"
	after=$(du_k "$work/root-one")
	disk "cutover deploy, 1 file changed" $((after - before))
	one_id=$(sed -n 's/^deployed \([^:]*\):.*/\1/p' "$work/out")

	# rsync --link-dest against the tree as it was before the change
	settle
	timed "rsync -a --link-dest, 1 file changed" \
		rsync -a --link-dest="$work/rsync-prev" "$src/" "$work/rsync-new-$r/"
	disk "rsync -a --link-dest, 1 file changed" "$(du_added "$work/rsync-prev" "$work/rsync-new-$r")"
done

# prune: one release at a time, oldest first, as a deploy over --keep does
for r in $(seq 1 "$RUNS"); do
	log "prune $r/$RUNS"
	keep=$((RUNS + 2 - r))
	before=$(du_k "$work/root-one")
	settle
	timed "cutover prune, 1 release" "$CUTOVER" prune --to "$work/root-one" --keep "$keep"
	expect "prune" '^pruned 1 release'
	disk "cutover prune, 1 release" $(($(du_k "$work/root-one") - before))
done

# where the last one-file release's disk went
rel=$work/root-one/releases/$one_id
split_dirs=$(find "$rel" -type d -printf '%k\n' | awk '{ s += $1 } END { print s + 0 }')
split_ndirs=$(find "$rel" -type d | wc -l)
split_man=$(du -ck "$work/root-one/.cutover/manifests/$one_id".* | tail -n 1 | awk '{ print $1 }')
split_cache=$(du -ck "$work/root-one/.cutover/cache" | tail -n 1 | awk '{ print $1 }')

# ---------------------------------------------------------------- report
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
rows=(
	"cp -a"
	"cp -a, then sync"
	"cutover deploy, first"
	"cp -al"
	"cp -al, then sync"
	"cutover deploy, 1 file changed"
	"rsync -a --link-dest, 1 file changed"
	"cutover prune, 1 release"
)
declare -A MED
echo
echo "cutover release benchmark: $tree_info"
echo "$RUNS runs each, round-robin, source warm in the page cache, sync before each run;"
echo "$(fs_desc) under $TMPBASE, $(nproc) CPUs, load average $load_start at start"
echo
printf '%-44s %9s %8s %8s %8s %12s\n' "what" "median s" "min s" "max s" "cpu s" "disk added"
printf '%-44s %9s %8s %8s %8s %12s\n' "----" "--------" "-----" "-----" "-----" "----------"
for name in "${rows[@]}"; do
	read -r med min max <<<"$(stats "${WALL[$name]}")"
	MED[$name]=$med
	cpu=-
	[ -n "${CPU[$name]:-}" ] && cpu=$(stats "${CPU[$name]}" | cut -d' ' -f1)
	d=-
	[ -n "${DISK[$name]:-}" ] && [ -n "${DISK[$name]// /}" ] && d=$(mib "$(stats "${DISK[$name]}" | cut -d' ' -f1)")
	printf '%-44s %9s %8s %8s %8s %12s\n' "$name" "$med" "$min" "$max" "$cpu" "$d"
done
echo
echo "source tree: $(mib "$src_k") on disk. One-file release (last run): $split_ndirs directories"
echo "  $(mib "$split_dirs"), manifests .tree + .sha256 $(mib "$split_man"), the changed object"
echo "  $(stat -c %s "$changed") bytes; the stat cache (rewritten each deploy) is $(mib "$split_cache")."
echo "\"then sync\" rows: the copy followed by sync(1), for comparison with cutover, which"
echo "calls syncfs() before switching; the targets compare with the plain copies."
echo "cutover prune: removes one release and its unique objects (disk column: freed)."

one=${MED["cutover deploy, 1 file changed"]}
steady=$(awk -v a="$one" -v b="${MED["cutover prune, 1 release"]}" 'BEGIN { printf "%.3f", a + b }')
first=${MED["cutover deploy, first"]}
cpa=${MED["cp -a"]}
cpal=${MED["cp -al"]}
one_k=$(stats "${DISK["cutover deploy, 1 file changed"]}" | cut -d' ' -f1)
verdict() { # verdict OK TEXT
	if [ "$1" = 1 ]; then printf '  met     %s\n' "$2"; else printf '  MISSED  %s\n' "$2"; fi
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
echo
echo "verdict (medians):"
verdict "$(le "$one" "$(awk -v c="$cpal" 'BEGIN { print 1.2 * c }')")" \
	"one-file-change deploy <= 1.2 x cp -al: $one s, limit $(awk -v c="$cpal" 'BEGIN { printf "%.3f", 1.2 * c }') s ($(awk -v a="$one" -v c="$cpal" 'BEGIN { printf "%.2f", a / c }') x cp -al)"
verdict "$(le "$steady" "$(awk -v c="$cpal" 'BEGIN { print 1.2 * c }')")" \
	"  same, in steady state (deploy + prune of 1 release): $steady s ($(awk -v a="$steady" -v c="$cpal" 'BEGIN { printf "%.2f", a / c }') x cp -al)"
verdict "$(le "$first" "$cpa")" \
	"first deploy <= cp -a: $first s vs $cpa s ($(awk -v a="$first" -v c="$cpa" 'BEGIN { printf "%.2f", a / c }') x cp -a)"
verdict "$(awk -v k="$one_k" 'BEGIN { print (k * 1024 < 3000000) ? 1 : 0 }')" \
	"one-file-change release adds < 3 MB: $(mib "$one_k") ($(awk -v k="$one_k" 'BEGIN { printf "%.2f", k * 1024 / 1e6 }') MB)"
echo
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); bench took $(awk -v a="$bench_start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s before cleanup"
exit 0
