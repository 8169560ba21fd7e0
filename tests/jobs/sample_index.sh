#!/bin/sh
# sample_index.sh RATLIP MAKE_DEMO_CKPT WORKDIR: `ratlip sample` writes OUT/index.html beside its grid:
# each caption once (a row per caption), HTML-escaped, UTF-8 intact, beside grid.png's rows in order;
# the per-sample PNGs are not listed; no index.html.tmp is left.
set -eu
RATLIP=$1; MK=$2; W=$3
rm -rf "$W"; mkdir -p "$W"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$MK" "$W/ckpt-00000005.h5" 7 >/dev/null
"$RATLIP" sample --ckpt "$W/ckpt-00000005.h5" --out "$W/out" --n 2 --threads 1 \
  --caption 'a red <circle> & "blue" square' --caption 'naïve café green triangle' > "$W/sample.log" 2>&1 ||
  { cat "$W/sample.log"; fail "ratlip sample"; }
cat "$W/sample.log"
grep -q "warning" "$W/sample.log" && fail "ratlip sample warned"
I="$W/out/index.html"
[ -f "$I" ] || fail "no $I"
[ -e "$I.tmp" ] && fail "$I.tmp left behind"
cat "$I"
grep -q '<img src="grid.png"' "$I" || fail "grid.png not shown"
grep -q 'sample-000' "$I" && fail "per-sample PNGs listed"
grep -q 'red <circle>' "$I" && fail "caption not escaped"
# in order, each beside its row of grid.png (the row's <img> comes just before its captions)
ESC='a red &lt;circle&gt; &amp; &quot;blue&quot; square'
tr -d '\n' < "$I" | grep -q "alt=\"row 1 of grid.png\"></div></td><td class=\"caps\"><p class=\"cap\">$ESC</p>.*alt=\"row 2 of grid.png\"></div></td><td class=\"caps\"><p class=\"cap\">naïve café green triangle</p>" ||
  fail "captions not beside rows 1 and 2 of grid.png, in order"
[ "$(grep -o 'green triangle' "$I" | wc -l)" -eq 1 ] || fail "a row's caption not said exactly once"
echo "sample_index: ok"
