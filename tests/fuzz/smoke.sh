#!/bin/sh
# smoke.sh BUILD_DIR SECONDS - run every libFuzzer target briefly.
# Each target starts from a scratch copy of tests/fuzz/corpus/<name> plus
# its regress/ inputs, so the repository is never modified.  Any crash,
# leak or sanitizer report fails the run; the reproducer is kept under
# tests/fuzz/artifacts/.
set -eu
build=$1
secs=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
art="$top/tests/fuzz/artifacts"
mkdir -p "$art"
pass=0
fail=0
for bin in "$build"/tests/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	target=${name#fuzz_}
	work=$(mktemp -d)
	[ -d "$top/tests/fuzz/corpus/$target" ] && cp -r "$top/tests/fuzz/corpus/$target/." "$work/" 2>/dev/null || true
	[ -d "$top/tests/fuzz/regress/$target" ] && cp -r "$top/tests/fuzz/regress/$target/." "$work/" 2>/dev/null || true
	dict=""
	[ -f "$top/tests/fuzz/dict/$target.dict" ] && dict="-dict=$top/tests/fuzz/dict/$target.dict"
	if "$bin" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$art/$target-" -print_final_stats=0 "$work" \
	    >"$work.log" 2>&1; then
		echo "fuzz $target: ok ($(grep -c . "$work.log") log lines)"
		pass=$((pass + 1))
	else
		echo "fuzz $target: FAILED"
		tail -40 "$work.log"
		fail=$((fail + 1))
	fi
	rm -rf "$work" "$work.log"
done
echo "fuzz smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
