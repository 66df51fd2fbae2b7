#!/usr/bin/env bash
# Fuzzes the event-stream and repository readers (fuzz_targets/frames.rs) with libFuzzer:
# `fuzz/run-frames.sh [SECONDS] [extra libFuzzer flags]`.
#
# Seeds are firehose frames as the perf harness makes them (`cargo xtask bench-frames` writes
# target/perf/data/firehose.frames: commits with their CAR blocks, identity and account
# messages); every 20th is split out into target/fuzz-frames/seeds. A commit frame's blocks
# are also read as a CAR file and walked, so mutations reach the CAR and tree readers too.
# New inputs go to target/fuzz-frames/corpus, crashes to target/fuzz-frames/artifacts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
seconds="${1:-600}"
shift || true
work="$repo/target/fuzz-frames"
frames="$repo/target/perf/data/firehose.frames"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"

if [ -f "$frames" ]; then
    python3 - "$frames" "$work/seeds" <<'PY'
import os, struct, sys

data, out = open(sys.argv[1], "rb").read(), sys.argv[2]
at, n, kept = 0, 0, 0
while at + 4 <= len(data):
    (length,) = struct.unpack(">I", data[at:at + 4])
    frame = data[at + 4:at + 4 + length]
    at += 4 + length
    if n % 20 == 0:
        with open(os.path.join(out, f"frame-{n:05}"), "wb") as f:
            f.write(frame)
        kept += 1
    n += 1
print(f"{kept} seeds of {n} frames", file=sys.stderr)
PY
else
    echo "no $frames (run cargo xtask bench-frames once): fuzzing from the corpus alone" >&2
fi

cd "$repo"
sanitizer="${CODEGEN_FUZZ_SANITIZER:-none}"
CARGO_BUILD_JOBS=1 cargo +nightly fuzz build --fuzz-dir "$here" -s "$sanitizer" frames
exec cargo +nightly fuzz run --fuzz-dir "$here" -s "$sanitizer" frames "$work/corpus" "$work/seeds" -- \
    -max_len=65536 \
    -max_total_time="$seconds" \
    -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 \
    "$@"
