#!/usr/bin/env bash
# Print the path of an nginx binary for the test suite, installing nginx-light from
# Debian's packages when none is there. Exits non-zero (with a reason on stderr) when
# it cannot.
set -euo pipefail
if command -v nginx >/dev/null 2>&1; then command -v nginx; exit 0; fi
if [ -x /usr/sbin/nginx ]; then echo /usr/sbin/nginx; exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing nginx from Debian's packages..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null) >&2
  # the package may start a system nginx; the tests run their own
  [ -x /usr/sbin/nginx ] && { echo /usr/sbin/nginx; exit 0; }
fi
echo "nginx is not installed and cannot be installed here (need root and apt-get)" >&2
exit 1
