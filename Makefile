# Cutover Cockpit: set-up and entry points. `make test` is what CI runs.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo setup system-deps

# lint-imports: the import contracts in pyproject.toml (docs/architecture.md), before the suite.
# The suite runs on two workers (pytest-xdist): each starts its own loopback fleet on its own
# addresses; tests that must not share the machine are pinned with @pytest.mark.xdist_group.
test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 --dist loadgroup

demo: setup
	$(VENV)/bin/cockpit demo

setup: $(STAMP) system-deps

$(PY):
	python3 -m venv $(VENV)

# Reinstall only when pyproject.toml changed.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# sshd and tmux run the integration tests (real loopback fleet, real terminal);
# the checks run pgrep/ps (procps), ss (iproute2) and setsid (util-linux) on the hosts.
# strace (installed when root, optional otherwise) lets a test count the processes a round starts.
# dnsmasq (dnsmasq-base) serves the dns checks' test records; dig (bind9-dnsutils) resolves them on a host.
# Real servers for the container, metrics, journal and browser tests (installed when root; without
# them those tests skip with the reason, except under CI, where .ci/run makes a skip a failure):
# a private Docker daemon with a busybox image (docker.io, busybox-static, docker-compose v1),
# Prometheus and promtool, Alertmanager, PostgreSQL, faketime, headless Chromium and its driver.
system-deps:
	@missing=""; \
	[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing="$$missing openssh-server"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v sudo >/dev/null 2>&1 || missing="$$missing sudo"; \
	command -v pgrep >/dev/null 2>&1 || missing="$$missing procps"; \
	command -v ss >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	command -v setsid >/dev/null 2>&1 || missing="$$missing util-linux"; \
	[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null 2>&1 || missing="$$missing dnsmasq-base"; \
	command -v dig >/dev/null 2>&1 || missing="$$missing bind9-dnsutils"; \
	if [ "$$(id -u)" = 0 ] && ! command -v strace >/dev/null 2>&1; then missing="$$missing strace"; fi; \
	servers=""; \
	command -v dockerd >/dev/null 2>&1 || servers="$$servers docker.io"; \
	[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || servers="$$servers busybox-static"; \
	command -v docker-compose >/dev/null 2>&1 || servers="$$servers docker-compose"; \
	command -v promtool >/dev/null 2>&1 || servers="$$servers prometheus"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || servers="$$servers prometheus-alertmanager"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || servers="$$servers postgresql"; \
	command -v faketime >/dev/null 2>&1 || servers="$$servers faketime"; \
	command -v chromium >/dev/null 2>&1 || servers="$$servers chromium"; \
	command -v chromedriver >/dev/null 2>&1 || servers="$$servers chromium-driver"; \
	if [ -n "$$servers" ] && [ "$$(id -u)" != 0 ]; then \
	  echo "not installed:$$servers: their tests will be skipped (CI requires them; sudo apt-get install -y$$servers)" >&2; \
	elif [ -n "$$servers" ]; then missing="$$missing$$servers"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing system packages:$$missing (run: sudo apt-get install -y$$missing)" >&2; exit 1; \
	  fi; \
	fi

# Generated docs: docs/keybindings.md from the real bindings, docs/screenshots/*.svg from the
# fixed fleet of tests/ui_fixtures.py. Only the virtualenv is needed (no sshd, no network).
.PHONY: docs screenshots

docs: $(STAMP) screenshots
	$(PY) tools/gen_keybindings.py

screenshots: $(STAMP)
	$(PY) tools/screenshots.py

# Benchmarks against ansible, pssh and parallel-ssh (docs/performance.md): bench/setup.sh installs
# Debian's pssh and bench/.venv (ansible-core, parallel-ssh, py-spy); results go to bench/results/.
# bench-quick: small N, few runs, about eight minutes. bench: the full suite (about 2 hours: B5 and B6 soaks).
# bench-scale: B8 alone (issue 20: cold snapshot at 100/200/1,000 hosts, a bastion, warm rounds and the TUI's
# first full table at 1,000 hosts); about an hour on a loaded 2-core machine.
.PHONY: bench bench-quick bench-scale

bench: setup
	bash bench/setup.sh
	$(PY) bench/run.py full

bench-quick: setup
	bash bench/setup.sh
	$(PY) bench/run.py quick

bench-scale: setup
	bash bench/setup.sh
	$(PY) bench/run.py full --only b8
