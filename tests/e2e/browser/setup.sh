#!/bin/sh
# Installs this folder's npm packages (puppeteer-core) exactly as
# package-lock.json pins them, when node_modules is missing or was installed
# from another package-lock.json. Called by tests/e2e/proxy_browser.bats
# (setup_file), so a fresh machine needs nothing more than
# `scripts/deps.sh test` (Debian's chromium and nodejs); its output goes to
# stderr.
set -eu
cd "$(dirname "$0")"
for c in node npm; do
	command -v "$c" > /dev/null || { echo "browser tests: $c not found; scripts/deps.sh test installs it" >&2; exit 1; }
done
# one install at a time in this folder
if command -v flock > /dev/null; then
	exec 9> .setup.lock
	flock 9
fi
cmp -s package-lock.json node_modules/.cutover-installed 2> /dev/null && exit 0
echo "browser tests: npm ci in $(pwd)" >&2
npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >&2 ||
	{ echo "browser tests: npm ci failed in $(pwd)" >&2; exit 1; }
cp package-lock.json node_modules/.cutover-installed
