# The course's two commands: `make course` and `make test`. Everything else is a step of them.
PY    := .venv/bin/python
STACK := $(PY) -m labs.stack
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
FIRST := notebooks/00_setup_check.ipynb
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The file browser lists the lessons' .ipynb, not their jupytext sources (notebooks/NN_*.py,
# still there and paired); the other patterns are jupyter_server's defaults.
HIDE := --ContentsManager.hide_globs='["__pycache__","*.pyc","*.pyo",".DS_Store","*~","[0-9][0-9]_*.py"]'

.PHONY: course test env up down status reset logs notebooks check lint unit lessons nbval nbval-untimed browser-run browser browser-lessons site-check site labs-repeat leftovers bench clean

## course: environment, brokers, then JupyterLab on 127.0.0.1 at the first notebook
course: env notebooks
	$(STACK) up
	$(PY) -m jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=8888 $(HIDE) $(ROOT_FLAG) $(FIRST)

## test: environment, brokers, lint + unit + real-broker tests + nbval + browser, brokers down
test: env
	$(STACK) exec -- $(MAKE) --no-print-directory check

env:
	@scripts/setup.sh

up: env
	$(STACK) up
down:
	$(STACK) down
status:
	$(STACK) status
reset:
	$(STACK) reset
logs:
	$(STACK) logs

## notebooks: the runnable .ipynb files, from the jupytext sources (notebooks/*.py), with the
## kernel's language_info in their metadata so that JupyterLab opens them unmodified
notebooks: env
	$(PY) -m jupytext --sync --update-metadata "$$($(PY) scripts/kernel_language_info.py)" $(NOTEBOOKS)

# The lessons whose checked figures are real-broker timings: the writes of a fault's window
# (13), of a failover's replication lag (15), a sustainable rate (19). Beside the browser's
# lessons on 2 cores they move -- lesson 13's acks=1 loss once did, by a third, outside its
# exercise's 25 % -- so `lessons` runs them alone, after the others.
TIMED := 13_durability 15_streams_in_production 19_performance

check: lint unit lessons leftovers

# nbval on the untimed lessons beside the browser's lessons (2 cores: one kernel each), then
# nbval on the timed lessons alone, then the site from what both ran.
lessons: notebooks
	$(NBVAL_PREPARE)
	$(MAKE) --no-print-directory -j2 --output-sync=target nbval-untimed browser-run
	$(NBVAL) $(TIMED:%=build/nbval/%.ipynb)
	$(MAKE) --no-print-directory site-check

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The tests marked `cpu` (files listed in tests/suite_parts.py: no broker, no server, no
# timing) on both cores; then those marked `paired` (real brokers, but mostly waiting:
# rebalances, timeouts, a JVM starting) two files at a time; then the rest -- measured
# times, killed brokers, the clusters -- one at a time.
unit:
	$(PY) -m pytest -q -n 2 -m cpu --durations=10
	$(PY) -m pytest -q -n 2 --dist loadfile -m paired --durations=10
	$(PY) -m pytest -q -m "not cpu and not paired" --durations=25

# nbval runs copies of the lessons whose checked cells hold their reference outputs
# (tests/course/references): the learner's notebooks/*.ipynb stay without outputs. The same
# run checks that Run All reveals no exercise answer (one `<lesson>::exercises` item each,
# tests/course/nbval_exercises.py): each lesson executes once for both. The lessons as they
# ran go to build/nbval/executed for the site (progress bars off: nbval keeps no widget
# state, and the browser tests check the bars in JupyterLab).
NBVAL_PREPARE := $(PY) tests/course/nbval_references.py prepare build/nbval
NBVAL := COURSE_PROGRESS=0 $(PY) -m pytest -q -p no:cacheprovider -p tests.course.nbval_exercises \
  --durations=10 --nbval-save-executed build/nbval/executed --nbval-lax
nbval: notebooks
	$(NBVAL_PREPARE)
	$(NBVAL) build/nbval
# Parts of `lessons` (no prerequisites: it makes the notebooks and the copies first).
nbval-untimed:
	$(NBVAL) $(TIMED:%=--ignore=build/nbval/%.ipynb) build/nbval
browser-run:
	$(BROWSER)

# The lessons with sliders in JupyterLab in headless Chromium (Run All, widgets render as
# controls, a slider moved with the keyboard redraws the figure; screenshots and times in
# build/browser/), then the static site from the notebooks those tests ran and saved and,
# for the lessons without sliders, those nbval ran (none executes again), opened from disk.
browser: browser-lessons site-check
BROWSER := $(PY) -m pytest -q -p no:cacheprovider tests/browser/test_site_builder.py \
  tests/browser/test_broken_widgets.py tests/browser/test_lessons.py
browser-lessons: notebooks
	$(BROWSER)
site-check:
	$(PY) scripts/build_site.py --executed build/browser/lab --executed build/nbval/executed
	$(PY) -m pytest -q -p no:cacheprovider tests/browser/test_site.py

## site: the course as static HTML in build/site/ (executes every lesson; open index.html)
site: env
	$(STACK) exec -- $(PY) scripts/build_site.py

# The lab suite twice more in a row (about 3 min; not part of `make test`, whose budget it
# would strain): run it before a workshop, with the brokers up.
labs-repeat:
	@if [ -d tests/labs ]; then for i in 2 3; do \
	  echo "lab suite, run $$i of 3"; $(PY) -m pytest -q -p no:cacheprovider tests/labs || exit 1; \
	done; fi

# Last: nothing of the course is left on the brokers (topics, groups, keys, subscribed
# channels) and no node of the durability cluster still runs; lists any leftover by name.
leftovers:
	$(STACK) leftovers

## bench: the simulator against the naive SimPy baseline (1M), the interactive variant, 10M
bench: env
	$(PY) -m sim.bench --messages 1000000 --vs-reference
	$(PY) -m sim.bench --interactive
	$(PY) -m sim.bench --messages 10000000 --repeat 1

clean:
	$(STACK) down --purge || true
	rm -rf .venv .cache
