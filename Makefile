# Entry points for humans and CI. `make demo` and `make test` are all a new user needs:
# both create .venv on first use (scripts/bootstrap.sh; fast no-op afterwards).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BOOTSTRAP := scripts/bootstrap.sh

.PHONY: help venv demo test test-kilted bench clean distclean

help:
	@echo "make demo       set up .venv, then run the end-to-end demo into outputs/demo"
	@echo "make test       set up .venv, then run the full test suite (pytest)"
	@echo "make test-kilted  the suite on ROS 2 Kilted's rclpy wheels, in .venv-kilted"
	@echo "                 (PYTEST_ARGS='test/test_x.py' runs a part of it)"
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

# Optional second job: the same suite against ROS 2 Kilted's rclpy/message wheels
# (ros-kilted-*), in its own venv: the Jazzy and Kilted wheels share the underlying
# ros-rclpy package, so one venv cannot hold both.
KILTED_VENV := .venv-kilted
PYTEST_ARGS ?=
test-kilted:
	JWM_VENV=$(CURDIR)/$(KILTED_VENV) JWM_ROS_WHEELS=kilted $(BOOTSTRAP)
	@$(KILTED_VENV)/bin/python -c 'from importlib.metadata import version as v; \
	print("rclpy", v("ros-rclpy"), "from ros-kilted-rclpy", v("ros-kilted-rclpy"))'
	JWM_REQUIRE_ROS=1 $(KILTED_VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(KILTED_VENV)
