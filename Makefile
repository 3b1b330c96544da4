# Entry points for humans and CI. `make demo` and `make test` are all a new user needs:
# both create .venv on first use (scripts/bootstrap.sh; fast no-op afterwards).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BOOTSTRAP := scripts/bootstrap.sh

.PHONY: help venv demo test bench clean distclean

help:
	@echo "make demo       set up .venv, then run the end-to-end demo into outputs/demo"
	@echo "make test       set up .venv, then run the full test suite (pytest)"
	@echo "make venv       only create/update .venv (scripts/bootstrap.sh)"
	@echo "make bench      set up .venv, then run every benchmarks/*.py"
	@echo "make clean      remove outputs and build/test caches (keeps .venv)"
	@echo "make distclean  clean, and remove .venv"

venv:
	@$(BOOTSTRAP)

demo: venv
	$(VENV)/bin/jepa-world-model demo --out outputs/demo

# JWM_REQUIRE_ROS=1: after bootstrap rclpy must import, so ROS tests fail instead of skip.
test: venv
	JWM_REQUIRE_ROS=1 $(PY) -m pytest -q

bench: venv
	@shopt -s nullglob; scripts=(benchmarks/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "make bench: no benchmarks/*.py yet" >&2; exit 1; fi; \
	for script in "$${scripts[@]}"; do \
		echo "== $$script"; $(PY) "$$script" || exit $$?; \
	done

clean:
	rm -rf outputs build install log .pytest_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
