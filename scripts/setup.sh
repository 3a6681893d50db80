#!/usr/bin/env bash
# Creates the course's Python environment (.venv, pinned by pyproject.toml) and makes sure the
# programs the native broker stack needs are there: a Java runtime >= 17, Maven (to fetch the
# Kafka jars once) and redis-server; and Chromium with its driver for the browser tests. As root with apt-get it installs what is missing and says
# so; otherwise it stops with the install line. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- Python >= 3.10
command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON found. Install Python 3.11+:
  Debian/Ubuntu: sudo apt-get install -y python3 python3-venv
  macOS:         brew install python@3.11
  conda:         conda env create -f environment.yml && conda activate event-delivery-course"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PYTHON" --version 2>&1) is too old: the course needs Python 3.11 or newer."

# ---------------------------------------------------------------- programs for native brokers
needs_native=1
apt_install=()  # what the sections below found missing, installed at once as root
if [ -n "${REDIS_URL:-}" ] && [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  needs_native=0  # external brokers
elif [ "${COURSE_STACK:-}" = docker ]; then
  needs_native=0
elif [ -z "${COURSE_STACK:-}" ] && command -v docker >/dev/null 2>&1 \
     && timeout 5 docker info >/dev/null 2>&1; then
  needs_native=0  # a Docker engine answers: docker compose provides the brokers
fi

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}

if [ "$needs_native" = 1 ]; then
  missing=()
  java_ok || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || [ -n "$(ls -d .cache/kafka-*/READY 2>/dev/null)" ] \
    || missing+=(maven)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing system packages with apt-get: ${missing[*]}"
      apt_install+=("${missing[@]}")
    else
      die "missing programs for the native brokers: ${missing[*]}. Install them:
  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless maven redis-server
  macOS:         brew install openjdk@17 maven redis
  conda:         conda env create -f environment.yml && conda activate event-delivery-course
or run Docker (the stack then uses docker-compose.yml), or point REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS at brokers that already run."
    fi
  fi
fi

# ---------------------------------------------------------------- the browser of the tests
# `make test` drives Chromium headless through JupyterLab and the static site. The course itself
# does not need it: without root and apt-get, setup says how to install it and goes on (the
# browser tests then fail with the same line).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing the browser for the tests with apt-get: chromium chromium-driver"
    apt_install+=(chromium chromium-driver fonts-liberation)
  else
    say "note: the browser tests of \`make test\` need Chromium and its driver:
  Debian:        sudo apt-get install -y chromium chromium-driver
  Ubuntu/macOS:  a Chromium or Chrome and its chromedriver on PATH
                 (or COURSE_CHROMIUM=/path/to/browser COURSE_CHROMEDRIVER=/path/to/driver)"
  fi
fi

# ---------------------------------------------------------------- one apt-get for both
# It runs while pip fills the Python environment (neither needs the other): a fresh machine
# waits for the slower of the two, not for both.
apt_pid=""
if [ "${#apt_install[@]}" -gt 0 ]; then
  apt_log=$(mktemp)
  (
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${apt_install[@]}"
  ) >"$apt_log" 2>&1 &
  apt_pid=$!
fi

# ---------------------------------------------------------------- the Python environment
if [ ! -x .venv/bin/python ]; then
  say "creating the Python environment in .venv"
  "$PYTHON" -m venv .venv || die "could not create .venv. On Debian/Ubuntu: sudo apt-get install -y python3-venv"
fi
stamp=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
  say "installing the pinned Python packages (pyproject.toml) into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$stamp" > .venv/.installed
fi

if [ -n "$apt_pid" ]; then
  if ! wait "$apt_pid"; then
    cat "$apt_log" >&2
    die "apt-get could not install ${apt_install[*]} (its output is above)."
  fi
  rm -f "$apt_log"
  say "installed with apt-get: ${apt_install[*]}"
fi
