#!/usr/bin/env bash
# The main job: compile every example space and the paper spaces of the zoo and take the DARTS_V2 architecture through fixing,
# statistics and standalone code generation (runs/main_job); then the one-shot pipeline on the
# 8x8 digits bundled with scikit-learn (runs/main): build the space, search it with ENAS,
# retrain the found architecture from scratch and report its accuracy on the held-out test split.
# About half a minute on 2 CPU cores (mostly the search).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
out=runs/main_job
mkdir -p "$out"
# --allow-imports: custom_op.yaml imports examples/user_ops/squeeze_excite.py, code of this
# repository; nascompile imports nothing a space names without it.
spaces=(examples/*.yaml zoo/darts.yaml zoo/enas-macro.yaml zoo/enas-micro.yaml zoo/nasbench201.yaml)
for space in "${spaces[@]}"; do
  nascompile build "$space" --allow-imports -o "$out/build/$(basename "$space" .yaml)" > /dev/null
done
echo "built ${#spaces[@]} example and paper spaces into $out/build"
nascompile zoo   # the shipped spaces: zoo:NAME wherever a space is accepted
nascompile build zoo/darts.yaml --set C=36 --set layers=20 --arch examples/darts_v2.json --check
nascompile fix zoo/darts.yaml examples/darts_v2.json --set C=36 --set layers=20 -o "$out/darts_v2.pt"
nascompile export-code zoo/darts.yaml examples/darts_v2.json --set C=36 --set layers=20 -o "$out/darts_v2.py"
nascompile convert zoo/darts.yaml examples/darts_v2.json --to genotype
python -c "import ast, sys; ast.parse(open(sys.argv[1]).read()); print('generated', sys.argv[1], 'parses')" "$out/darts_v2.py"

# build -> search -> retrain (a fresh run each time: search refuses to overwrite a run)
rm -rf runs/main
nascompile build examples/digits_cnn.yaml -o runs/main/build
nascompile search runs/main/build --algo enas --data digits --epochs 10 --batch-size 32 --seed 0 -o runs/main/search
nascompile retrain runs/main/search/arch.json --epochs 30 --lr 0.05
python - runs/main/search/retrain/metrics.json <<'PY'
import json, sys
acc = json.load(open(sys.argv[1]))["test"]["acc"]
print(f"main job: test accuracy of the found architecture {acc:.4f} (target 0.97)")
sys.exit(0 if acc >= 0.97 else 1)
PY
echo "main job done in $((SECONDS - start)) s"
