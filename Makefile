# hts: two commands on a fresh Debian machine.
#   make demo   set up and run the demo campaign on the embedded store, then query + report
#   make test   set up and run the test suite
# Both are idempotent: apt packages and the virtualenv are installed only when missing.

PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0*cp311*.whl))
APT_PKGS := quantum-espresso quantum-espresso-data slurmctld slurmd slurm-client munge chromium
STAMP   := $(VENV)/.hts-installed

.PHONY: demo test test-fast setup apt clean-demo potential potential-7net labels

apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing apt packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing the Python environment into $(VENV) (pip's output: $(VENV)/install.log)"
	@$(BIN)/pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || (tail -20 $(VENV)/install.log; exit 1)
	@# CPU torch first, so that no dependency pulls the CUDA build
	@if [ -n "$(TORCH_WHEEL)" ]; then $(BIN)/pip install -q "$(TORCH_WHEEL)" >> $(VENV)/install.log 2>&1; \
	 else $(BIN)/pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu >> $(VENV)/install.log 2>&1; fi \
	 || (tail -20 $(VENV)/install.log; exit 1)
	@$(BIN)/pip install -q -c constraints.txt -e ".[test]" >> $(VENV)/install.log 2>&1 || (tail -20 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

setup: apt $(STAMP)

demo: setup
	rm -rf demo_output && mkdir -p demo_output
	cd demo_output && ../$(BIN)/hts run ../configs/demo.yaml
	cd demo_output && ../$(BIN)/hts query --config ../configs/demo.yaml --campaign demo-MgAlH
	cd demo_output && ../$(BIN)/hts report demo-MgAlH --config ../configs/demo.yaml --out report --html
	@echo "demo store: demo_output/hts_store   report: demo_output/report/report_demo-MgAlH.html"

# the full suite: QE tests (marker dft: the fcc Al electron-phonon chain and its fault tests, the GTH
# pseudopotential equation-of-state checks) and the one-node SLURM test (marker slurm) included
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

# without the QE runs
test-fast: setup
	$(BIN)/python -m pytest -q -m "not dft" -p no:cacheprovider

clean-demo:
	rm -rf demo_output

# the shipped prescreen potential, two members (a committee), each in two stages: (1) CHGNet fine-tuned on the committed
# pw.x labels (data/potential/labels.jsonl) into build/potential/stage1-sN, starting from energy offsets fit on total
# energies (--start-offsets total, as in session 18); (2) continued from those weights with the frozen-phonon labels
# along stage 1's soft modes added (hts label --soft-modes), stage 1's held-out groups kept, into data/potential/model
# and model-s1, the two members side by side on one thread each. Then measured on the held-out prototypes
# (docs/potential.md). About 110 min on 2 cores for both. Both members came out the shipped bytes in sessions 30 and
# 31, with package versions that were not recorded; those of constraints.txt (session 36) give other bytes, and
# worse phonons: member 0's stage 1 from them calls 25% of 60 CompSC hydrides phonon-stable, the stage-2 recipe on
# it 20% and 30% (two batch orders, 2 threads), the shipped member 49% (session 37: the CompSC phonon fraction
# follows the training run, not only the recipe). The
# thread counts are part of the recipe too (other counts give other bytes). Memory: a training
# step takes about 0.12 MiB per bond angle (benchmarks/batch_memory.py), so a member's peak depends on its densest
# batch (stage 2 measured at 11.4 GB; the densest possible batch of its labels, 15.5 GiB); hts finetune
# --max-angles-per-batch N caps it at about 0.45 GiB + N x 0.12 MiB, but then does not give the shipped bytes.
STAGE1_ARGS   ?= --epochs 18 --max-pressure 350 --threads 2 --start-offsets total
STAGE2_ARGS   ?= --epochs 6 --lr 5e-4 --max-pressure 350 --threads 1
STAGE2_LABELS := data/potential/labels.jsonl data/potential/labels-soft-modes.jsonl
potential: setup
	for s in 0 1; do \
	  $(BIN)/hts finetune --labels data/potential/labels.jsonl --out build/potential/stage1-s$$s $(STAGE1_ARGS) \
	    --seed $$s || exit 1; \
	done
	$(BIN)/hts finetune --labels $(STAGE2_LABELS) --start-from build/potential/stage1-s0 --out data/potential/model \
	  $(STAGE2_ARGS) --seed 0 & p0=$$!; \
	$(BIN)/hts finetune --labels $(STAGE2_LABELS) --start-from build/potential/stage1-s1 --out data/potential/model-s1 \
	  $(STAGE2_ARGS) --seed 1 & p1=$$!; \
	wait $$p0; r0=$$?; wait $$p1; r1=$$?; [ $$r0 = 0 ] && [ $$r1 = 0 ]
	$(BIN)/python benchmarks/potential_fidelity.py --model data/potential/model

# SevenNet (7net-0) fine-tuned in two stages on the same labels, light-element and hydrogen files added in stage 2
# (session 43: 18 + 30 min on 2 cores; not the default model: docs/potential.md, session 43)
SEVENNET_STAGE2_LABELS := $(STAGE2_LABELS) data/potential/labels-light-elements.jsonl \
  data/potential/labels-light-prototypes.jsonl data/potential/labels-light-hydrides.jsonl data/potential/labels-h-bonds.jsonl
potential-7net: setup
	$(BIN)/hts finetune --base 7net-0 --labels data/potential/labels.jsonl --out build/potential/7net-stage1 \
	  --epochs 15 --lr 2e-3 --batch-size 2 --max-pressure 350 --threads 2
	$(BIN)/hts finetune --base 7net-0 --labels $(SEVENNET_STAGE2_LABELS) --start-from build/potential/7net-stage1 \
	  --out build/potential/7net-model --epochs 6 --lr 5e-4 --max-pressure 350 --threads 2
	$(BIN)/python benchmarks/potential_fidelity.py --model build/potential/7net-model

# more DFT labels for it (hours of pw.x; resumable: what the committed file holds is not made again)
LABEL_ARGS ?= --elements La Y Ca Sr Ba Mg S Sc --pressures 150 250 --strains 0 --max-atoms 11
labels: setup
	$(BIN)/hts label $(LABEL_ARGS) --store data/potential/label_store --workdir /tmp/hts_labels \
	  --export data/potential/labels.jsonl --nprocs 2 --k-spacing 0.35
