#!/bin/sh
# cli_options.sh RATLIP WORKDIR: the command-line parser of every command (jobs/options.h), through the
# built binary:
#   - `train --steps abc|0|-5|1e99|''` exits 1 naming --steps, before any MPI start or dataset read (no
#     banner, no run directory, the missing dataset never mentioned); every numeric option of every
#     command refuses a non-number the same way (exit 1, naming the option and its range)
#   - every command and subcommand: --help and -h exit 0, print "usage: ratlip <its name>", no literal
#     "%%"; groups without a subcommand exit 2
#   - an unknown option exits 2 naming it (with a did-you-mean for a near miss); an unknown subcommand too;
#     a missing value, a missing required option or argument, an extra argument exit 2
#   - a value that is not one of an option's choices exits 1 listing them, with a did-you-mean for a near
#     miss (--dataset bird → 'birds')
#   - every shipped config is valid; cub/flower/faces carry upstream's recipe; train.steps 0 (faces.json) is
#     refused at start with upstream's 1502 epochs worked out
#   - valid command lines still work: data synth (long, --opt=value and short forms), data verify,
#     text-embed (with "--"), config show --set, and a 1-step `ratlip train` with short options
set -eu
RATLIP=$1; W=$2
rm -rf "$W"; mkdir -p "$W"
# passed: the work directory goes (its checkpoints would fill a small CI disk); failed: it stays to be read
trap 'st=$?; [ "$st" -ne 0 ] || rm -rf "$W"; exit "$st"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run EXPECTED_STATUS ARGS...: runs ratlip, output in $W/out, status in $rc; complains when it differs
run() {
  want=$1; shift
  set +e; "$RATLIP" "$@" > "$W/out" 2>&1; rc=$?; set -e
  [ "$rc" = "$want" ] || { fail "ratlip $* exits $rc, expected $want:"; sed 's/^/    /' "$W/out" | head -5; }
}
has() { grep -q -e "$1" "$W/out"; }

# ---- train --steps: strict, before anything starts ----
for v in abc 0 -5 1e99 "" 12x " 3" 99999999999999999999; do
  run 1 train --run-dir "$W/never" --data "$W/no-such-data" --steps "$v"
  has "train: --steps wants an integer in 1\.\." || fail "train --steps '$v': message does not name --steps: $(cat "$W/out")"
  has "BLAS kernel\|no-such-data" && fail "train --steps '$v' started (banner or dataset read): $(cat "$W/out")"
  [ -e "$W/never" ] && fail "train --steps '$v' created the run directory"
done
run 1 train --steps=abc                                # the value error comes before the missing --run-dir
has "\-\-steps" || fail "--steps=abc not named"
run 1 train -n abc --run-dir "$W/never"               # short form
has "\-\-steps" || fail "-n abc not named as --steps"

# ---- every numeric option refuses a non-number, naming itself (exit 1) ----
while read -r opt cmd; do
  # shellcheck disable=SC2086
  run 1 $cmd "$opt" abc
  has "$opt wants " || fail "ratlip $cmd $opt abc: message does not name $opt: $(cat "$W/out")"
done <<'EOF'
--steps train
--threads train
--n sample
--seed sample
--threads sample
--n eval
--threads eval
--size data synth
--train data synth
--test data synth
--seed data synth
--shards data synth
--shards data import
--size data import
--train-size data import
--seed data import
--test-fraction data import
--timeout data import
--threads data stats
--inception-size data stats
--steps clip train
--threads clip train
EOF
run 1 data synth --out "$W/x" --size 5000
has "\-\-size wants an integer in 8\.\.4096, got '5000'" || fail "out of range: $(cat "$W/out")"
run 1 data import --images a --captions b --out c --shards 1 --size 64 --test-fraction 1
has "\-\-test-fraction wants a number in \[0, 1)" || fail "half-open range: $(cat "$W/out")"
run 1 data stats "$W/x" --split val
has "\-\-split wants one of train, test" || fail "choice: $(cat "$W/out")"
run 1 ckpt export --format onnx --out "$W/x.pth" "$W/c.h5"
has "\-\-format wants one of torch" || fail "choice: $(cat "$W/out")"
# a near miss of a choice gets a did-you-mean (edit distance <= 2, or a prefix); a far one only the list
run 1 data import --layout dfgan --data-dir "$W/x" --dataset bird --out "$W/never" --shards 1 --size 64
has "\-\-dataset wants one of birds, flower, faces, coco, got 'bird' (did you mean 'birds'?)" ||
  fail "choice near miss: $(cat "$W/out")"
run 1 data import --layout dfgan --data-dir "$W/x" --dataset flowers --out "$W/never" --shards 1 --size 64
has "got 'flowers' (did you mean 'flower'?)" || fail "choice near miss: $(cat "$W/out")"
run 1 data stats "$W/x" --split tset
has "got 'tset' (did you mean 'test'?)" || fail "choice near miss: $(cat "$W/out")"
run 1 data import --layout dfgan --data-dir "$W/x" --dataset imagenet --out "$W/never" --shards 1 --size 64
has "did you mean" && fail "a far miss got a suggestion: $(cat "$W/out")"

# ---- --help / -h of every command and subcommand ----
for c in train sample eval fid config "config show" ckpt "ckpt info" "ckpt verify" "ckpt diff" "ckpt export" \
         data "data synth" "data import" "data verify" "data stats" "data probe" text-embed clip "clip train" sweep \
         "sweep expand" analyze "analyze runs"; do
  for h in --help -h; do
    # shellcheck disable=SC2086
    run 0 $c $h
    has "^usage: ratlip $c " || fail "ratlip $c $h does not print 'usage: ratlip $c': $(head -2 "$W/out")"
    has "%%" && fail "ratlip $c $h prints a literal %%"
    has "exit status" || fail "ratlip $c $h does not document the exit status"
  done
done
run 0 ckpt verify --help "$W/missing.h5"               # help wins over the rest of the line
run 0 train --steps abc --help
for g in config ckpt data clip sweep analyze; do
  run 2 $g
  has "usage: ratlip $g" || fail "ratlip $g without a subcommand: no usage"
done
run 0 --help
has "usage: ratlip" || fail "ratlip --help"

# ---- unknown options and subcommands, malformed lines: exit 2 naming the culprit ----
for c in train sample eval fid "config show" "ckpt info" "ckpt verify" "ckpt diff" "ckpt export" "data synth" \
         "data import" "data verify" "data stats" "data probe" text-embed "clip train" "sweep expand" "analyze runs"; do
  # shellcheck disable=SC2086
  run 2 $c --no-such-option
  has "ratlip $c: unknown option '--no-such-option'" || fail "ratlip $c --no-such-option: $(cat "$W/out")"
done
run 2 train --run-dir "$W/never" --step 5
has "unknown option '--step' (did you mean --steps?)" || fail "did-you-mean: $(cat "$W/out")"
run 2 data synth --out "$W/x" --shard 2
has "did you mean --shards?" || fail "did-you-mean: $(cat "$W/out")"
run 2 ckpt verfy "$W/c.h5"
has "unknown subcommand 'verfy' (did you mean verify?)" || fail "subcommand did-you-mean: $(cat "$W/out")"
run 2 data synth --out                                  # missing value
has "\-\-out needs a value" || fail "missing value: $(cat "$W/out")"
run 2 train --steps 5                                   # missing required option
has "\-\-run-dir DIR is required" || fail "missing --run-dir: $(cat "$W/out")"
run 2 fid "$W/a.h5"                                     # missing argument
has "B.h5" || fail "missing argument not named: $(cat "$W/out")"
run 2 fid "$W/a.h5" "$W/b.h5" "$W/c.h5"                # extra argument
has "unexpected argument" || fail "extra argument: $(cat "$W/out")"
run 2 sweep expand s.json --out "$W/o" --quiet=1        # a flag takes no value
has "\-\-quiet takes no value" || fail "flag with a value: $(cat "$W/out")"
[ -e "$W/never" ] && fail "a refused command line created a run directory"

# ---- every shipped config is valid (a bad key or an inconsistent model fails here, not in a user's job) ----
for f in "$(dirname "$0")"/../../jobs/configs/*.json; do
  run 0 config show "$f"
  has '"name"' || fail "config show $f: $(head -3 "$W/out")"
done
# the paper's datasets (issue 17): upstream's effective recipe in each (lr 1e-4/4e-4, betas (0, 0.9), 64 ranks x 8
# = global 512, 12 samples per test caption set, Inception at 299 px); faces.json leaves train.steps to the user
for d in cub flower faces; do
  f="$(dirname "$0")/../../jobs/configs/$d.json"
  [ -f "$f" ] || { fail "jobs/configs/$d.json is missing"; continue; }
  run 0 config show "$f"
  for kv in '"name":[[:space:]]*"'$d'"' lr_g:0.0001 lr_d:0.0004 beta1:0, beta2:0.9 batch_per_rank:8, \
            samples_per_caption:12 inception_size:299 sim_weight:4 image_size:224; do
    case $kv in \"*) re=$kv ;; *) re="\"${kv%%:*}\":[[:space:]]*${kv#*:}" ;; esac
    has "$re" || fail "$d.json: config show has no $kv"
  done
done
run 0 config show "$(dirname "$0")/../../jobs/configs/faces.json"
has '"steps":[[:space:]]*0,' || fail "faces.json: train.steps is not 0 (CelebA-tiny's size is not published)"

# ---- valid command lines still work ----
run 0 data synth --out "$W/data" --train=16 --test 4 --size 32 --seed=3 --shards 2
[ "$(ls "$W/data"/train-*.h5 2>/dev/null | wc -l)" = 2 ] || fail "data synth --shards 2 wrote $(ls "$W/data")"
run 0 data verify "$W/data"
has "train 16 images in 2 shards" || fail "data verify: $(cat "$W/out")"
run 0 text-embed -o "$W/emb.h5" -- "-a red circle" "a blue square"
has "wrote 2 embeddings" || fail "text-embed with --: $(cat "$W/out")"
run 0 config show -s train.steps=7 --set=model.rat_mode=batch
has '"steps":[[:space:]]*7' || fail "config show --set: $(cat "$W/out")"
has '"rat_mode":[[:space:]]*"batch"' || fail "config show --set=: $(cat "$W/out")"
# a 32x32 model (a few seconds): --steps/--threads/--set/--data/--run-dir as short options
run 0 train -r "$W/run" -d "$W/data" -n 1 -t 1 -s model.image_size=32 -s model.clip_image_size=32 \
    -s model.clip_patch=4 -s 'model.g_sizes=[8,16,32]' -s 'model.g_channels=[256,128,64,32]' \
    -s train.batch_per_rank=2 -s train.sample_every=0 -s train.log_every=1
[ -f "$W/run/ckpt-00000001.h5" ] || fail "train -n 1 wrote no ckpt-00000001.h5: $(tail -5 "$W/out")"
[ "$(cat "$W/run/status" 2>/dev/null)" = finished ] || fail "train -n 1: status $(cat "$W/run/status" 2>/dev/null)"
has "steps 0 -> 1" || fail "train -n 1 did not train 1 step: $(grep steps "$W/out")"
run 0 ckpt verify "$W/run/ckpt-00000001.h5"
has "all checksums good" || fail "ckpt verify: $(cat "$W/out")"
# train.steps 0 (faces.json ships it): refused at start, naming the key, with upstream's 1502 epochs worked out
run 1 train -r "$W/run0" -d "$W/data" -t 1 -s train.steps=0 -s model.image_size=32 -s model.clip_image_size=32 \
    -s model.clip_patch=4 -s 'model.g_sizes=[8,16,32]' -s 'model.g_channels=[256,128,64,32]' \
    -s train.batch_per_rank=2 -s train.sample_every=0
has "train.steps is 0" && has "1502 x floor(16 train images / global batch 2) = 12016 steps" ||
  fail "train.steps=0: $(grep -i steps "$W/out")"
run 0 ckpt diff --fail-if-different "$W/run/ckpt-00000001.h5" "$W/run/ckpt-00000001.h5"

[ "$fails" = 0 ] || { echo "cli_options: $fails failure(s)"; exit 1; }
echo "ok: cli_options"
