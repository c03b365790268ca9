#!/bin/sh
# deps.sh - install the Debian packages postern needs to build, run and test.
# usage: deps.sh [build|test|bench]   (bench: build + what tests/bench needs)
# Idempotent: installs only what is missing. Run as root on Debian 12.
set -eu

BUILD="build-essential cmake pkg-config \
 libevent-dev libssl-dev libsasl2-dev libsasl2-modules liblmdb-dev \
 libpcre2-dev libconfig-dev libcrypt-dev zlib1g-dev"
# Test tools and oracles: real clients and third-party checkers the suites
# run (swaks, curl, sieve-connect, dkimpy, postsrsd + faketime for the SRS
# oracle, dnsmasq for test DNS zones, the CPython email corpus).
TEST="libcmocka-dev python3-pytest clang libclang-rt-14-dev openssl \
 swaks curl dnsmasq-base python3-dkim procps iproute2 lmdb-utils \
 sieve-connect publicsuffix libpython3.11-testsuite postsrsd faketime \
 isync offlineimap3 fetchmail getmail6 neomutt \
 dovecot-core dovecot-imapd postfix clamav-daemon"
# Benchmark baselines (not part of make test): SpamAssassin 4 for
# tests/bench/spam_accuracy.py (../shared/external/sa-score.sh).
BENCH="spamassassin spamd spamc bc"

want="$BUILD"
case "${1:-build}" in
build) ;;
test) want="$BUILD $TEST" ;;
bench) want="$BUILD $BENCH" ;;
*) echo "usage: deps.sh [build|test|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet.
apt-get update -qq || apt-get update
# Test oracles (dovecot, postfix, postsrsd) and baselines (spamd) come with
# system services: the tests start their own instances on loopback, so keep
# the packaged ones from starting (policy-rc.d, only if the machine has none)
# and disabled, and spamassassin's daily sa-update timer (network) too.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	guard=1
fi
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections 2>/dev/null || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi
if command -v systemctl >/dev/null 2>&1; then
	for svc in dovecot postfix postsrsd spamd \
	    spamassassin:spamassassin-maintenance.timer; do
		case "$missing" in
		*"${svc%%:*}"*) systemctl disable --now "${svc#*:}" >/dev/null 2>&1 || true ;;
		esac
	done
fi
