# Debian 12 packages l4lb needs, by purpose. Sourced by the scripts beside it.
# shellcheck shell=bash
L4LB_BUILD_PACKAGES=(cmake ninja-build g++ pkg-config libtomlplusplus-dev libfmt-dev libcli11-dev
                     libssl-dev libcpp-httplib-dev nlohmann-json3-dev libsystemd-dev
                     libc-ares-dev  # discover/dns_source.cc
                     clang libbpf-dev bpftool)  # src/bpf: BPF programs, their skeletons, libbpf
L4LB_QUICKSTART_PACKAGES=(python3 curl)
L4LB_TEST_PACKAGES=(libgtest-dev libgmock-dev clang-format libclang-rt-14-dev git
                    python3 python3-pytest python3-pytest-xdist redis-server redis-tools socat iproute2 procps curl
                    unbound bind9-dnsutils nginx memcached postgresql
                    etcd-server etcd-client  # test_discover_etcd.py
                    mariadb-server haproxy openssl systemd man-db groff-base
                    zsh  # test_completion.py
                    nftables  # test_transparent.py: packaging/transparent's socket rule
                    prometheus  # promtool: tests/integration/test_metrics.py
                    rsyslog  # a real syslog server: test_health_udp.py, test_access_log_syslog.py
                    bird2  # a real BGP speaker and router: test_announce_bird.py
                    ethtool iperf3 wrk  # the XDP packet path's namespace tests (veth offloads, traffic)
                    chromium nodejs)  # test_dashboard.py: a headless browser, playwright-core's Node.js
# npm, for tests/browser's playwright-core (`npm ci`, scripts/test.sh), only where no npm is on
# PATH: a Node.js from elsewhere (NodeSource's) brings its own and conflicts with Debian's.
L4LB_TEST_PACKAGES_IF_NO_NPM=(npm)
