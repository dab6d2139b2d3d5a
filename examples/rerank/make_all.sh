#!/bin/sh
# Regenerates everything Python-side of the example: the synthetic data
# (build/, not committed), the sample requests and their hidden truth (data/),
# the trained models and their PyTorch reference scores (models/).
# Needs /usr/bin/python3 with PyTorch 1.13, onnx 1.12, numpy; ~2 min on 2 cores.
set -eu
cd "$(dirname "$0")"
/usr/bin/python3 generate.py
/usr/bin/python3 train.py "$@"
