# Two set-up commands (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch: the CPU build by default. On Linux and Windows PyPI's plain `torch` is the CUDA build (several GB
# of CUDA libraries), so the pin names the CPU wheel (`+cpu`) and PyTorch's CPU index is searched besides
# PyPI (a machine that already has that wheel in a local wheel folder or index uses it). macOS wheels on
# PyPI are CPU builds already. torch's own dependencies come from PyPI with mfif's install (--no-deps:
# the torch index is asked for torch only). CUDA build instead, e.g. for CUDA 12.8:
#   make venv TORCH_PIN=torch==2.13.0 TORCH_INDEX=https://download.pytorch.org/whl/cu128
ifeq ($(shell uname -s),Darwin)
TORCH_PIN ?= torch==2.13.0
else
TORCH_PIN ?= torch==2.13.0+cpu
endif
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-deps "$(TORCH_PIN)" --extra-index-url "$(TORCH_INDEX)"
	$(PIP) install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/mfif demo --out demo-out

test: venv
	$(PY) -m pytest -q --timeout=900

clean:
	rm -rf $(VENV) demo-out
