#!/bin/bash
# Run every test layer and end with "N passed, N failed, N skipped".
# TESTS=unit|cli|e2e (space separated) limits the layers; a file name
# pattern in ONLY limits the files (ONLY=lock runs tests/*/*lock*).
cd "$(dirname "$0")/.."
layers=${TESTS:-unit cli e2e}
pass=0 fail=0 skip=0
failed_names=()
log=$(mktemp -d /tmp/cutover-tests.XXXXXX)
trap 'rm -rf "$log"' EXIT

count() { # $1 = suite name, stdin = TAP
	local suite=$1 line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"not ok"*)
			if [[ $line =~ \#\ [Ss][Kk][Ii][Pp] ]]; then skip=$((skip + 1)); else
				fail=$((fail + 1)); failed_names+=("$suite: ${line#not ok }"); fi ;;
		"ok "*)
			if [[ $line =~ \#\ [Ss][Kk][Ii][Pp] ]]; then skip=$((skip + 1)); else pass=$((pass + 1)); fi ;;
		esac
	done
}

for layer in $layers; do
	case $layer in
	unit)
		for t in build/tests/test_*; do
			[ -x "$t" ] || continue
			[ -n "$ONLY" ] && [[ $t != *$ONLY* ]] && continue
			echo "# unit: $t"
			CMOCKA_MESSAGE_OUTPUT=TAP timeout 120 "$t" > "$log/out" 2>&1
			rc=$?
			count "$t" < "$log/out"
			if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log/out"; then
				echo "not ok - $t exited with status $rc"
				fail=$((fail + 1)); failed_names+=("$t: exited with status $rc")
			fi
		done ;;
	cli|e2e)
		for t in tests/$layer/*.bats; do
			[ -e "$t" ] || continue
			[ -n "$ONLY" ] && [[ $t != *$ONLY* ]] && continue
			echo "# $layer: $t"
			timeout 600 bats --tap "$t" > "$log/out" 2>&1 < /dev/null
			rc=$?
			count "$t" < "$log/out"
			if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log/out"; then
				echo "not ok - $t exited with status $rc"
				fail=$((fail + 1)); failed_names+=("$t: exited with status $rc")
			fi
		done ;;
	esac
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "# failed:"
	printf '#   %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
