#!/bin/bash
# make demo: a real deploy of the bundled example site to a local directory:
# two deploys, a rollback, the releases table and the history.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cutover=$here/../cutover
demo=${DEMO_DIR:-/tmp/cutover-demo}
rm -rf "$demo"
mkdir -p "$demo"

if [ -t 1 ]; then b=$'\033[1m' n=$'\033[0m'; else b= n=; fi
step() { printf '\n%s== %s%s\n' "$b" "$*" "$n"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "make a deploy root"
run "$cutover" init "$demo/site"

step "first deploy: the example site as it is (v1)"
cp -a "$here/site" "$demo/build"
run "$cutover" deploy "$demo/build" --to "$demo/site" --shared uploads/
run cat "$demo/site/current/index.html" | grep '<h1>'

step "second deploy: v2 changes one file; only that file travels"
sed -i 's/>v1</>v2</' "$demo/build/index.html"
sleep 1
run "$cutover" deploy "$demo/build" --to "$demo/site" --shared uploads/
run cat "$demo/site/current/index.html" | grep '<h1>'
run ls -l "$demo/site/current"

step "the releases"
run "$cutover" releases --to "$demo/site"

step "rollback: back to v1 in one step"
run "$cutover" rollback --to "$demo/site"
run cat "$demo/site/current/index.html" | grep '<h1>'

step "the releases after the rollback"
run "$cutover" releases --to "$demo/site"

step "history"
run "$cutover" log --to "$demo/site"

step "verify the live release against its manifest"
run "$cutover" verify --to "$demo/site"

printf '\nThe demo root is %s/site; point a web server at %s/site/current.\n' "$demo" "$demo"
