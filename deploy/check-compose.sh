#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: Debian's docker-compose (1.29) parses the
# file, checks it against the Compose schema and interpolates it with .env.example, for the default
# services and with the `cantaloupe` profile (profiles exist since Compose 1.28).
#
# Installs docker-compose with apt when it is missing and we are root on Debian (CI), without
# recommended packages (they would pull in the Docker engine, which is not needed to validate).
# Exits non-zero when the file is invalid or docker-compose cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "check-compose: installing Debian's docker-compose…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    echo "check-compose: docker-compose is not installed and this is not a root Debian machine (apt-get install docker-compose)" >&2
    exit 1
  fi
fi

# A clean environment: only .env.example may feed the interpolation, not whatever the caller has
# exported (a stray TUNNEL_TOKEN or PORT would hide a mistake in the example file).
run() { env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose --env-file .env.example "$@"; }

echo "check-compose: $(docker-compose version --short 2>/dev/null || docker-compose --version)"
run config -q
echo "check-compose: docker-compose.yml is valid"
run --profile cantaloupe config -q
echo "check-compose: docker-compose.yml is valid with --profile cantaloupe"
