#!/bin/sh
# io/tools/npz_to_fidstats.py (issue 17): pytorch-fid's mu/sigma .npz -> ratlip's statistics file, read
# back by `ratlip fid` itself: FID(a, a) = 0, FID(a, a + shift) = |shift|^2, FID(a, c) = the numpy
# formula for a different sigma; the attributes of io/fidstats.h; refusals (no --inception-weights,
# sigma not symmetric, mu of the wrong length, a NaN, a missing array) exit 1 naming the file and array.
# Usage: npz_fidstats_test.sh RATLIP WORKDIR. Exit 77 (skip) where /usr/bin/python3 lacks numpy or h5py.
set -u
RATLIP=$1; work=$2
tool=$(cd "$(dirname "$0")/../../io/tools" && pwd)/npz_to_fidstats.py
py=/usr/bin/python3
if ! $py -c 'import numpy, h5py' 2>/dev/null; then
  echo "SKIPPED: $py lacks numpy or h5py; npz_to_fidstats.py was not run"; exit 77
fi
rm -rf "$work"; mkdir -p "$work" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# inputs: d = 16, sigma = A A^T/16 + I; b = a with mu shifted; c = a different sigma; broken ones
$py - "$work" <<'PY' || { echo "FAIL: making the inputs"; exit 1; }
import sys, h5py, numpy as np
w = sys.argv[1]; d = 16
r = np.random.default_rng(17)
def spd():
    A = r.standard_normal((d, d))
    return A @ A.T / d + np.eye(d)
mu, sg = r.standard_normal(d), spd()
shift = 0.25 * r.standard_normal(d)
sc = spd()
np.savez(w + "/a.npz", mu=mu, sigma=sg)
np.savez(w + "/b.npz", mu=mu + shift, sigma=sg)
np.savez(w + "/c.npz", mu=mu, sigma=sc)
def fid(m1, s1, m2, s2):   # |dmu|^2 + Tr s1 + Tr s2 - 2 Tr (s1^1/2 s2 s1^1/2)^1/2, through eigh
    l, v = np.linalg.eigh(s1); r1 = (v * np.sqrt(l)) @ v.T
    lam = np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum())
open(w + "/expect_b", "w").write("%.12f\n" % float((shift ** 2).sum()))
open(w + "/expect_c", "w").write("%.12f\n" % fid(mu, sg, mu, sc))
bad = sg.copy(); bad[2, 5] += 0.01
np.savez(w + "/nonsym.npz", mu=mu, sigma=bad)
np.savez(w + "/mulen.npz", mu=mu[:15], sigma=sg)
nan = mu.copy(); nan[3] = np.nan
np.savez(w + "/nan.npz", mu=nan, sigma=sg)
np.savez(w + "/nosigma.npz", mu=mu)
# a weight file with the root attributes io/tools/convert_inception.py writes (no tensors: not loaded)
with h5py.File(w + "/inception.h5", "w") as f:
    for k, v in {"network": "inception_fid", "source_file": "pt_inception-2015-12-05-6726825d.pth",
                 "source_sha256": "6726825d" * 8, "source_dtype": "torch.float32", "bn_eps": np.float64(0.001),
                 "layout": "OIHW", "feature": "pool3", "format": "ratlip-inception-1"}.items():
        f.attrs[k] = v
with h5py.File(w + "/inception_tv.h5", "w") as f:
    f.attrs["network"] = "inception_tv"; f.attrs["source_sha256"] = "ab" * 32
PY

# the conversions
for x in a b c; do
  $py "$tool" "$work/$x.npz" "$work/$x.h5" --inception-weights "$work/inception.h5" --source "test $x" \
      >"$work/$x.log" 2>&1 || { cat "$work/$x.log"; fail "converting $x.npz exited $?"; }
done
[ -e "$work/a.h5.tmp" ] && fail "a.h5.tmp left behind"

# the file as io/fidstats.h describes it
$py - "$work" <<'PY' || fail "a.h5 is not laid out as io/fidstats.h says"
import sys, h5py, numpy as np
w = sys.argv[1]; z = np.load(w + "/a.npz")
with h5py.File(w + "/a.h5", "r") as f:
    assert sorted(f.keys()) == ["mu", "sigma"], list(f.keys())
    assert f["mu"].dtype == "<f8" and f["sigma"].dtype == "<f8"
    assert np.array_equal(f["mu"][()], z["mu"]) and np.array_equal(f["sigma"][()], z["sigma"])
    a = f.attrs
    assert a["n"] == 0 and a["n"].dtype == np.int64 and a["random_weights"] == 0, dict(a)
    assert a["network"] == "inception_fid" and a["weights_sha256"] == "6726825d" * 8, dict(a)
    assert a["note"] == "moments only (converted from pytorch-fid npz): FID only, no KID", a["note"]
    assert a["source"] == "pytorch-fid npz a.npz test a", a["source"]
    assert a["inception_size"] == 299 and a["inception_size"].dtype == np.int64, dict(a)   # pytorch-fid's resize
print("ok: a.h5 layout and attributes")
PY

# read by ratlip itself; the FIDs it computes
fidof() { "$RATLIP" fid "$1" "$2" >"$work/fid.log" 2>&1 || { cat "$work/fid.log"; return 1; }
          awk '/^FID /{print $2}' "$work/fid.log"; }
near() { awk -v x="$1" -v y="$2" 'BEGIN{d = x - y; if (d < 0) d = -d; exit !(x != "" && d <= 1e-6)}'; }
v=$(fidof "$work/a.h5" "$work/a.h5") || fail "ratlip fid a.h5 a.h5 failed"
near "$v" 0 && echo "ok: FID(a, a) = $v" || fail "FID(a, a) = '$v', want 0"
grep -q "^KID" "$work/fid.log" && fail "KID printed without /features"
want=$(cat "$work/expect_b")
v=$(fidof "$work/a.h5" "$work/b.h5") || fail "ratlip fid a.h5 b.h5 failed"
near "$v" "$want" && echo "ok: FID(a, b) = $v = |dmu|^2" || fail "FID(a, b) = '$v', want |dmu|^2 = $want"
want=$(cat "$work/expect_c")
v=$(fidof "$work/a.h5" "$work/c.h5") || fail "ratlip fid a.h5 c.h5 failed"
near "$v" "$want" && echo "ok: FID(a, c) = $v (numpy $want)" || fail "FID(a, c) = '$v', numpy says $want"

# refusals: exit 1, the file and the array (or the reason) named, no output left
refuse() {   # refuse NAME GREP ARGS...: the tool run on ARGS exits 1 and its message matches GREP
  name=$1; pat=$2; shift 2
  rm -f "$work/r.h5"
  $py "$tool" "$@" >"$work/r.log" 2>&1; rc=$?
  if [ $rc -ne 1 ] || ! grep -q -- "$pat" "$work/r.log"; then
    cat "$work/r.log"; fail "$name: exit $rc, want 1 and a message with '$pat'"
  elif [ -e "$work/r.h5" ] || [ -e "$work/r.h5.tmp" ]; then
    fail "$name: output written"
  else echo "ok: $name refused: $(head -c 200 "$work/r.log")"; fi
}
W="--inception-weights=$work/inception.h5"
refuse "no --inception-weights" "inception-weights.*comparable only.*convert_inception.py" "$work/a.npz" "$work/r.h5"
refuse "inception_tv weights" "inception_tv.h5: network inception_tv" "$work/a.npz" "$work/r.h5" \
       --inception-weights "$work/inception_tv.h5"
refuse "a statistics file as weights" "a.h5: attributes network/source_sha256 missing" "$work/a.npz" \
       "$work/r.h5" --inception-weights "$work/a.h5"
refuse "non-symmetric sigma" "nonsym.npz: array sigma is not symmetric" "$work/nonsym.npz" "$work/r.h5" "$W"
refuse "mu of the wrong length" "mulen.npz: array mu has length 15" "$work/mulen.npz" "$work/r.h5" "$W"
refuse "NaN" "nan.npz: array mu has 1 non-finite" "$work/nan.npz" "$work/r.h5" "$W"
refuse "missing array" "nosigma.npz: array sigma missing" "$work/nosigma.npz" "$work/r.h5" "$W"
refuse "missing npz" "nothere.npz: cannot read" "$work/nothere.npz" "$work/r.h5" "$W"

$py "$tool" --help 2>&1 | grep -q "FID only, no KID" || fail "--help does not explain the missing features"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "PASS"
