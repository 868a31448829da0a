#!/usr/bin/env bash
# Shared by every env (each <env>.post-deploy.sh links here). Snakemake runs it once, inside the freshly built conda environment, from the working directory
# (the repository root when started as `snakemake --profile slurm`): install the w2s package from
# this checkout, editable and without dependencies (the environment file pins them).
set -euo pipefail
if ! grep -qs '^name = "w2s"' pyproject.toml; then
  echo "post-deploy: no w2s pyproject.toml in $PWD; run snakemake from the repository root" >&2
  exit 1
fi
python -m pip install --no-deps --no-build-isolation -e .
python -c "import w2s"
