#!/usr/bin/env bash
# Fuzzes codegen::generate with libFuzzer: `fuzz/run.sh [SECONDS] [extra libFuzzer flags]`.
#
# Seeds come from the shared lexicon corpus beside the repository (../shared/corpus), read in
# place and split into one file per document under target/fuzz/seeds; each document's ref
# closure (when small) becomes one multi-document seed too, so refs across documents resolve and
# mutations reach resolve and emit. New inputs go to target/fuzz/corpus, crashes to
# target/fuzz/artifacts. CODEGEN_FUZZ_STRICT=1 also fails on checked input that does not emit.
# How far the inputs get (load, check, emit): `cargo run --release --example reach -- DIR...`
# from fuzz/, on target/fuzz/corpus and target/fuzz/seeds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
corpus="${CODEGEN_FUZZ_CORPUS:-$repo/../shared/corpus}"
seconds="${1:-600}"
shift || true
work="$repo/target/fuzz"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"

if [ -d "$corpus" ]; then
    python3 - "$corpus" "$work/seeds" <<'PY'
import json, os, sys

corpus, out = sys.argv[1], sys.argv[2]
docs = {}  # id -> text

def add(text):
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
        docs.setdefault(doc["id"], text)
    return doc

seeds = []
for root in ("atproto-lexicons/lexicons", "atproto-test-lexicons/lexicons", "interop-tests/lexicon/catalog"):
    for base, _, files in os.walk(os.path.join(corpus, root)):
        for name in sorted(files):
            if name.endswith(".json"):
                with open(os.path.join(base, name), encoding="utf-8") as f:
                    text = f.read()
                add(text)
                seeds.append(text)
for vectors in ("lexicon-valid.json", "lexicon-invalid.json"):
    path = os.path.join(corpus, "interop-tests/lexicon", vectors)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for case in json.load(f):
                seeds.append(json.dumps(case["lexicon"], indent=2))

def refs_of(value, current, found):
    if isinstance(value, dict):
        for key, item in value.items():
            targets = [item] if key == "ref" else item if key == "refs" else []
            for target in targets if isinstance(targets, list) else []:
                if isinstance(target, str):
                    nsid = target.split("#", 1)[0] or current
                    found.add(nsid)
            refs_of(item, current, found)
    elif isinstance(value, list):
        for item in value:
            refs_of(item, current, found)

# Every document with the documents it refers to, transitively, when that stays small.
for nsid in sorted(docs):
    closure, todo = [], [nsid]
    while todo and len(closure) <= 8:
        current = todo.pop()
        if current in closure or current not in docs:
            continue
        closure.append(current)
        found = set()
        refs_of(json.loads(docs[current]), current, found)
        todo.extend(sorted(found - set(closure)))
    if 1 < len(closure) <= 8 and not todo:
        seeds.append("\0".join(docs[d] for d in closure))

for i, text in enumerate(seeds):
    with open(os.path.join(out, f"seed-{i:04}"), "w", encoding="utf-8") as f:
        f.write(text)
print(f"{len(seeds)} seeds from {corpus}", file=sys.stderr)
PY
else
    echo "no lexicon corpus at $corpus: fuzzing from target/fuzz/corpus and an empty seed set" >&2
fi

cd "$repo"
# Safe Rust all the way down: AddressSanitizer would only halve the speed. Overflow checks and
# debug assertions stay on (cargo fuzz's default). One build job: the machine is shared.
sanitizer="${CODEGEN_FUZZ_SANITIZER:-none}"
CARGO_BUILD_JOBS=1 cargo +nightly fuzz build --fuzz-dir "$here" -s "$sanitizer" generate
exec cargo +nightly fuzz run --fuzz-dir "$here" -s "$sanitizer" generate "$work/corpus" "$work/seeds" -- \
    -dict="$here/lexicon.dict" \
    -max_len=65536 \
    -max_total_time="$seconds" \
    -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 \
    "$@"
