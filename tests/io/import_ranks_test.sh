#!/usr/bin/env bash
# `mpirun -np N ratlip data import` (issue 17): every rank checks the inputs and writes shard s of each split
# when s % N is its rank.
#   - 1 rank alone (no MPI), 1, 2 and 3 ranks under mpirun write the same dataset: every file, every dataset
#     (dtype, shape, chunks, filters, values) and every attribute equal (h5py: the bytes differ only in
#     HDF5's object timestamps), and `data verify` passes; --force under 2 ranks rewrites it the same;
#   - a broken input (missing caption file) on 3 ranks: exit 1, the message once, no OUT;
#   - an image that fails to decode in rank 1's shard on 2 ranks: its message once, rank 0 says rank 1
#     failed, exit 1, no OUT (every rank's shards removed);
#   - rank 1 stopped (SIGSTOP) while writing: rank 0 ends the job within --timeout with exit 4 naming
#     rank 1, and no staged shard stays.
# usage: import_ranks_test.sh RATLIP MPIEXEC WORKDIR [PYTHON]
set -u
R=$1 MPIEXEC=$2 W=$3 PY=${4:-/usr/bin/python3}
if ! "$PY" -c "import h5py, numpy, PIL" 2>/dev/null; then
  echo "SKIP: $PY without h5py, numpy or PIL (it writes the images and compares the shards)"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { local n=$1; shift; "$MPIEXEC" --oversubscribe --bind-to none -np "$n" "$R" "$@"; }
fails=0
check() {   # check NAME CONDITION [OUTPUT]
  if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; [ -n "${3:-}" ] && printf '%s\n' "$3" | tail -20; fails=$((fails + 1)); fi
}

rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
# 3 classes x 5 images (JPEG and PNG, different sizes), 1-3 caption lines each
"$PY" - <<'EOF'
import os
import numpy as np
from PIL import Image
rng = np.random.default_rng(5)
for c, cls in enumerate(["001.Albatross", "002.Auklet", "003.Blackbird"]):
    os.makedirs(f"images/{cls}"), os.makedirs(f"text/{cls}")
    for i in range(5):
        a = rng.integers(0, 256, (20 + 3 * i, 24 + 2 * c, 3), dtype=np.uint8)
        Image.fromarray(a).save(f"images/{cls}/{cls}_{i}." + ("png" if i % 2 else "jpg"))
        with open(f"text/{cls}/{cls}_{i}.txt", "w") as f:
            f.write("".join(f"bird {c} {i} caption {k}\n" for k in range(1 + (i + c) % 3)))
EOF
args="data import --images images --captions text --shards 5 --size 16 --recursive --test-fraction 0.25"

# the same dataset from 1 rank alone, 1, 2 and 3 ranks
out=$("$R" $args --out alone 2>&1); check "1 rank alone (no MPI)" '[ $? -eq 0 ]' "$out"
for n in 1 2 3; do
  out=$(mpi $n $args --out np$n 2>&1); rc=$?
  check "$n rank(s) under mpirun" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | grep -q 'imported 15 images'" "$out"
done
out=$(mpi 3 $args --out np3 2>&1); rc=$?
check "3 ranks: an OUT with shards is refused once" "[ $rc -ne 0 ] && [ \$(printf '%s' \"\$out\" | grep -c 'already holds') -eq 1 ]" "$out"
out=$(mpi 2 $args --out np2 --force 2>&1); rc=$?
check "2 ranks --force rewrites OUT" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | grep -q 'removed the 9 old shards'" "$out"
for d in alone np1 np2 np3; do
  out=$("$R" data verify $d 2>&1); rc=$?
  check "verify $d" "[ $rc -eq 0 ] && printf '%s' \"\$out\" | grep -q 'train 11 images in 5 shards | test 4 images in 4 shards.*labels'" "$out"
done
out=$("$PY" - alone np1 np2 np3 <<'EOF' 2>&1
import os, sys
import h5py, numpy as np
def objects(path):
    """{name: (kind, properties, attributes, values)} of every group and dataset of an HDF5 file."""
    got = {}
    with h5py.File(path, "r") as f:
        def attrs(o):
            return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in o.attrs.items()}
        got["/"] = ("group", None, attrs(f), None)
        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                props = (str(o.dtype), o.shape, o.chunks, o.compression, o.fletcher32, o.shuffle)
                got[name] = ("dataset", props, attrs(o), o[()].tolist())
            else:
                got[name] = ("group", None, attrs(o), None)
        f.visititems(visit)
    return got
ref, bad = sys.argv[1], 0
names = sorted(os.listdir(ref))
for d in sys.argv[2:]:
    if sorted(os.listdir(d)) != names:
        print(f"{d}: files {sorted(os.listdir(d))} != {ref}: {names}"); bad += 1; continue
    for n in names:
        a, b = objects(os.path.join(ref, n)), objects(os.path.join(d, n))
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                print(f"{d}/{n}: {k} differs from {ref}/{n}"); bad += 1
print(f"compared {len(names)} shards of {ref} with {' '.join(sys.argv[2:])}: {bad} differences")
sys.exit(1 if bad else 0)
EOF
); rc=$?
check "every dataset and attribute equal over 1/2/3 ranks" "[ $rc -eq 0 ]" "$out"
echo "$out" | tail -1

# a broken input on 3 ranks: refused once, nothing written
mv text/002.Auklet/002.Auklet_3.txt moved.txt
out=$(mpi 3 $args --out broken 2>&1); rc=$?
check "missing caption file on 3 ranks: once, exit 1, no OUT" \
  "[ $rc -ne 0 ] && [ \$(printf '%s' \"\$out\" | grep -c 'text/002.Auklet/002.Auklet_3.txt') -eq 1 ] && [ ! -e broken ]" "$out"
mv moved.txt text/002.Auklet/002.Auklet_3.txt

# an image that fails to decode in the last shard (rank 1 of 2): every shard removed
"$PY" -c "
from PIL import Image
Image.new('RGB', (40, 40), (1, 2, 3)).save('images/003.Blackbird/zz.png')
d = open('images/003.Blackbird/zz.png', 'rb').read()
open('images/003.Blackbird/zz.png', 'wb').write(d[:len(d) // 2])
open('text/003.Blackbird/zz.txt', 'w').write('a damaged image\n')"
out=$(mpi 2 data import --images images --captions text --shards 2 --size 16 --recursive --test-fraction 0 --out damaged 2>&1); rc=$?
check "damaged image on rank 1: its message once, rank 0 names rank 1, no OUT" \
  "[ $rc -ne 0 ] && [ \$(printf '%s' \"\$out\" | grep -c 'rank 1: images/003.Blackbird/zz.png: damaged PNG') -eq 1 ] && printf '%s' \"\$out\" | grep -q 'rank 1 failed while writing' && [ ! -e damaged ]" "$out"
rm images/003.Blackbird/zz.png text/003.Blackbird/zz.txt

# rank 1 stops (SIGSTOP) at its first image: the job ends within the timeout, exit 4, nothing staged stays
t0=$(date +%s)
out=$(RATLIP_FAULT=import-image:1:stop RATLIP_FAULT_RANK=1 timeout 120 "$MPIEXEC" --oversubscribe --bind-to none -np 2 \
      "$R" $args --out stalled --timeout 2 2>&1); rc=$?
dt=$(($(date +%s) - t0))
check "rank 1 stopped: exit 4 in ${dt} s naming rank 1, no staged shard left" \
  "[ $rc -eq 4 ] && [ $dt -lt 60 ] && printf '%s' \"\$out\" | grep -q 'rank 1 (.*) sent no report for 2 s' && [ -z \"\$(ls stalled 2>/dev/null | grep -v '^$')\" ]" "$out"

[ $fails -eq 0 ] && echo "import_ranks: all passed" || echo "import_ranks: $fails FAILED"
[ $fails -eq 0 ]
