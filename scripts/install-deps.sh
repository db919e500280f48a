#!/usr/bin/env bash
# install-deps.sh installs what lockbench needs on this machine when it is
# missing: redis-server (exec provider), redis-benchmark (calibration), a
# C compiler (the exec provider builds its small wall-clock shim with it),
# and python3 with Debian's redis-py (python3-redis), which the Python
# reference lock clients in clients/python run on.
# With --test it also installs Chromium, which the report test uses to
# render report.html headless.
# On Debian/Ubuntu it uses apt-get; elsewhere it says what to install.
# It changes nothing when everything is present.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# python3-redis installs for Debian's /usr/bin/python3, which may not be the
# python3 first on PATH (pyenv, a virtualenv): either one importing redis will do.
python3 -c 'import redis' >/dev/null 2>&1 || /usr/bin/python3 -c 'import redis' >/dev/null 2>&1 || missing+=(python3-redis)
if [[ "${1:-}" == "--test" ]]; then
	command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2
			exit 1
		}
		sudo="sudo"
	fi
	echo "install-deps.sh: installing ${missing[*]}" >&2
	$sudo apt-get update -qq >/dev/null
	# policy-rc.d-free install: do not start a system redis on port 6379.
	$sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	exit 0
fi

case "$(uname -s)" in
Darwin) hint="brew install redis (includes redis-benchmark); Xcode command line tools for cc; python3 and redis-py (pip3 install redis) for clients/python; Chromium for the report test" ;;
*) hint="your distribution's redis (server and tools), a C compiler, python3 and redis-py" ;;
esac
echo "install-deps.sh: missing ${missing[*]}; install $hint" >&2
exit 1
