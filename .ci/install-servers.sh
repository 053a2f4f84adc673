#!/usr/bin/env bash
# Installs the real servers the test suite starts (tests/servers/): OpenSSH server, Prometheus,
# Alertmanager (Debian packages) and Unleash (npm, into a cache dir). Idempotent: each piece is
# installed only when missing, so CI and developers can run it on every start.
#
#   .ci/install-servers.sh                 # cache dir: <repo>/.cache/unleash
#   FIRELINE_UNLEASH_DIR=/x .ci/install-servers.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unleash_dir="${FIRELINE_UNLEASH_DIR:-$repo_root/.cache/unleash}"
# Keep in step with UNLEASH_VERSION in tests/servers/unleash.py: 7.5.x is the newest Unleash whose
# engines field accepts Node 20 (7.6+ needs Node 22).
unleash_version="7.5.1"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# -- Debian packages ------------------------------------------------------------------------------------
declare -A binary_of=(
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=/usr/bin/ssh
  [prometheus]=/usr/bin/prometheus
  [prometheus-alertmanager]=/usr/bin/prometheus-alertmanager
  # useradd: tests/servers/sshd.py creates a clean login user (start_sshd(user=...)) for benchmarks.
  [passwd]=/usr/sbin/useradd
)
missing=()
for pkg in openssh-server openssh-client prometheus prometheus-alertmanager passwd; do
  if [ ! -x "${binary_of[$pkg]}" ]; then missing+=("$pkg"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-servers: apt-get install ${missing[*]}"
  # Never let the packages' postinst start system daemons: those would hold 22/9090/9093 (and
  # 0.0.0.0:9094 gossip) on this machine. A policy-rc.d that exits 101 makes invoke-rc.d refuse.
  # We only add one for the duration of the install if the image does not already have one.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  remove_policy() { if [ "$added_policy" = 1 ]; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
  trap remove_policy EXIT
  # apt-get update once, only if the package lists are empty or do not know the packages yet.
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -q
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# If a service was started anyway (a machine with a working init, no policy-rc.d), stop it: the tests
# pick free ports, but stray daemons on 9090/9093/22 confuse anyone debugging, and the Debian
# alertmanager listens for gossip on all interfaces.
stop_service() {
  local unit="$1" exe="$2" pidfile="$3"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    echo "install-servers: stopping system service $unit"
    "${sudo_cmd[@]}" systemctl stop "$unit" || true
    "${sudo_cmd[@]}" systemctl disable "$unit" >/dev/null 2>&1 || true
  fi
  # Without systemd the Debian init script starts the daemon with this pidfile. Kill only that pid,
  # and only if it really is the packaged executable (never match by a broad name).
  if [ -f "$pidfile" ]; then
    local pid
    pid="$(cat "$pidfile")"
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
      echo "install-servers: stopping $unit (pid $pid from $pidfile)"
      "${sudo_cmd[@]}" kill "$pid" || true
    fi
  fi
}
stop_service prometheus /usr/bin/prometheus /run/prometheus/prometheus.pid
stop_service prometheus-alertmanager /usr/bin/prometheus-alertmanager \
  /run/prometheus/prometheus-alertmanager.pid
# The system sshd is only ours to stop if this run installed it (a developer may rely on theirs).
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
  stop_service ssh /usr/sbin/sshd /run/sshd.pid
fi

for port in 9090 9093 9094; do
  if command -v ss >/dev/null 2>&1 && ss -Hltn "sport = :$port" | grep -q .; then
    echo "install-servers: WARNING: something still listens on port $port:" >&2
    ss -Hltnp "sport = :$port" >&2 || true
  fi
done

# -- Unleash (npm) --------------------------------------------------------------------------------------
installed_version=""
if [ -f "$unleash_dir/node_modules/unleash-server/package.json" ]; then
  installed_version="$(node -p "require('$unleash_dir/node_modules/unleash-server/package.json').version")"
fi
if [ "$installed_version" != "$unleash_version" ]; then
  command -v npm >/dev/null || { echo "install-servers: npm (Node >= 20) is required" >&2; exit 1; }
  echo "install-servers: npm install unleash-server@$unleash_version into $unleash_dir"
  mkdir -p "$unleash_dir"
  cat >"$unleash_dir/package.json" <<JSON
{
  "name": "fireline-unleash-cache",
  "private": true,
  "dependencies": {
    "unleash-server": "$unleash_version"
  }
}
JSON
  # --ignore-scripts: no dependency needs its install script (optional native ssh2/cpu-features
  # bindings fall back to JS), and one (@scarf/scarf) only phones home with analytics.
  (cd "$unleash_dir" && SCARF_ANALYTICS=false npm install --no-audit --no-fund --omit=dev \
    --ignore-scripts --loglevel=error)
fi

echo "install-servers: sshd $(/usr/sbin/sshd -V 2>&1 | head -1 | cut -d, -f1)," \
  "$(/usr/bin/prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3)," \
  "$(/usr/bin/prometheus-alertmanager --version 2>&1 | head -1 | cut -d' ' -f1-3)," \
  "unleash-server $unleash_version"
