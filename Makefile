# Two commands set everything up:  make demo  and  make test.
# Each creates .venv and installs the project (torch 2.13.0 when no torch is present).
# TORCH_INDEX picks where that torch comes from, e.g. the CPU-only build (a few hundred MB
# instead of the CUDA build with its NVIDIA libraries):
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
PYTHON ?= python3
TORCH_INDEX ?=
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean gpu-check

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py $(ARGS)

# The suite on up to four worker processes (pytest-xdist); ARGS='-n 0' runs it in one.
test: $(STAMP)
	@$(PY) -m pytest -n auto --maxprocesses=4 $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The CUDA tests and the GPU figures, into gpu_results/gpu-check.json (under 4 minutes on one GPU).
# No install step: the checkout in place (PYTHONPATH) and $(PYTHON) as it is, e.g. a system Python with
# a CUDA build of torch: make gpu-check PYTHON=/usr/bin/python3. Without CUDA it says so and runs nothing.
gpu-check:
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(PYTHON) -m nnlab.cli.gpu_check $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
