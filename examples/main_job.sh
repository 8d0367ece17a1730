#!/usr/bin/env bash
# The main job: compile every example space, then take the DARTS_V2 architecture through
# fixing, statistics and standalone code generation. Writes into ./runs/main_job.
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/main_job
mkdir -p "$out"
for space in examples/*.yaml; do
  nascompile build "$space" -o "$out/build/$(basename "$space" .yaml)"
done
nascompile build examples/darts.yaml --set C=36 --set layers=20 --arch examples/darts_v2.json --check
nascompile fix examples/darts.yaml examples/darts_v2.json --set C=36 --set layers=20 -o "$out/darts_v2.pt"
nascompile export-code examples/darts.yaml examples/darts_v2.json --set C=36 --set layers=20 -o "$out/darts_v2.py"
nascompile convert examples/darts.yaml examples/darts_v2.json --to genotype
python -c "import ast, sys; ast.parse(open(sys.argv[1]).read()); print('generated', sys.argv[1], 'parses')" "$out/darts_v2.py"
