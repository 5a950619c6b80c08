#!/bin/bash
# 0107-dns-cache - lib/dns's answer cache against a real unbound: a
# repeated lookup is a hit (same records, counted in the resolver's
# stats and in the per-message counter), spelled in another case or
# with a final dot too; another type or name is a miss; a record stays
# until its TTL runs out (2 s here), then it is asked again; NXDOMAIN
# and "no data" are kept for the SOA's negative TTL, and at most an
# hour (libunbound says 32768 s when there is no SOA); a timeout is
# never kept; at most cache_size bytes are kept, the least recently used
# going first, and an answer larger than that not at all; with no
# forwarder, recursion never asks loopback nor sends out the LAN's
# reverse names.  A per-message counter's limit and time budget stop new
# queries, never answers already in the cache.  tb-resolver prints one
# line per lookup (see its
# header).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

RESOLVER=${top_builddir:-.}/t/tb-resolver
peer_require unbound
peer_require_helper "$RESOLVER"
tb_init
tb_plan 26

cat >"$TB/cache-zones.conf" <<'EOF'
local-data: 'short.example.test. 2 IN TXT "lives two seconds"'
local-zone: "neg.test." static
local-data: "neg.test. 300 IN SOA ns.neg.test. hostmaster.neg.test. 1 3600 600 86400 60"
local-data: "www.neg.test. 300 IN A 192.0.2.80"
EOF
peer_start_unbound "$TB/cache-zones.conf"

out=$("$RESOLVER" "$TB_DNS" example.test/TXT example.test/TXT \
    EXAMPLE.Test./TXT example.test/A other.test/TXT 2>&1)
tb_ok "five lookups ran" test "$(wc -l <<<"$out")" -eq 5 || tb_diag "$out"
line() { sed -n "${1}p" <<<"$out"; }
tb_is "$(line 1)" \
    "example.test TXT ok records=1 ttl=300 hits=0 misses=1 counted=1 cached=0 kept=1 v=spf1 ip4:127.0.0.1 ip4:192.0.2.1 -all" \
    "first lookup: a miss, the record from unbound"
tb_like "$(line 2)" \
    "^example\.test TXT ok records=1 ttl=(300|299) hits=1 misses=1 counted=2 cached=1 kept=1 v=spf1 ip4:127\.0\.0\.1 ip4:192\.0\.2\.1 -all$" \
    "the same lookup again: a hit, the same record, counted in both"
tb_like "$(line 3)" "^EXAMPLE\.Test\. TXT ok records=1 ttl=[0-9]+ hits=2 misses=1 counted=3 cached=2 kept=1 v=spf1 " \
    "case and the final dot do not matter: a hit"
tb_like "$(line 4)" "^example\.test A ok records=1 ttl=300 hits=2 misses=2 .* 127\.0\.0\.1$" \
    "another type of the same name: a miss"
tb_like "$(line 5)" "^other\.test TXT ok records=1 ttl=300 hits=2 misses=3 counted=5 cached=2 kept=3 v=spf1 ip4:192\.0\.2\.0/24 ~all$" \
    "another name: a miss"

# The TTL: 2 s.
out=$("$RESOLVER" "$TB_DNS" short.example.test/TXT short.example.test/TXT \
    sleep/3 short.example.test/TXT 2>&1)
tb_like "$(line 2)" "^short\.example\.test TXT ok records=1 ttl=[12] hits=1 misses=1 .* lives two seconds$" \
    "a 2 s record is a hit right away"
tb_like "$(line 3)" "^short\.example\.test TXT ok records=1 ttl=2 hits=1 misses=2 .* lives two seconds$" \
    "after 3 s it has expired: asked again (a miss)"
# The cache reads lib/clock: moved past the TTL, the entry is gone at
# once.  (Only a real wait shows the fresh TTL above: libunbound keeps
# the record too, on the kernel's clock, which no test can move.)
out=$("$RESOLVER" "$TB_DNS" short.example.test/TXT short.example.test/TXT \
    advance/3 short.example.test/TXT 2>&1)
tb_like "$(line 2)$(line 3)" "^short\.example\.test TXT ok .* hits=1 misses=1 .*short\.example\.test TXT ok records=1 ttl=[12] hits=1 misses=2 .* lives two seconds$" \
    "lib/clock moved 3 s ahead: expired without a wait (a miss)"

# Negative answers: with an SOA (60 s negative TTL), without one.
out=$("$RESOLVER" "$TB_DNS" nosuch.neg.test/A nosuch.neg.test/A \
    www.neg.test/TXT www.neg.test/TXT nosuch.example.test/A \
    nosuch.example.test/A 2>&1)
tb_like "$(line 1)" "^nosuch\.neg\.test A nxdomain records=0 ttl=60 hits=0 misses=1 " \
    "NXDOMAIN: a miss first"
tb_like "$(line 2)" "^nosuch\.neg\.test A nxdomain records=0 ttl=(60|59) hits=1 misses=1 " \
    "NXDOMAIN is kept for the SOA's negative TTL: a hit"
tb_like "$(line 4)" "^www\.neg\.test TXT nodata records=0 ttl=(60|59) hits=2 misses=2 " \
    "no data of that type: kept too"
tb_like "$(line 5)$(line 6)" "^nosuch\.example\.test A nxdomain records=0 ttl=3600 hits=2 misses=3 .*nosuch\.example\.test A nxdomain records=0 ttl=3[56][0-9][0-9] hits=3 misses=3 " \
    "NXDOMAIN without an SOA: kept an hour, not 32768 s"

# At most cache_size bytes (100 kB here; each entry counts its own size,
# its name's and its records'), the least recently used going first.
out=$("$RESOLVER" -v -c 100000 "$TB_DNS" $(seq -f 'n%g.neg.test/A' 0 1999) \
    n0.neg.test/A n1999.neg.test/A 2>&1)
last=$(tail -n 1 <<<"$out")
entries=$(sed -n 's/^cache entries=\([0-9]*\) .*/\1/p' <<<"$last")
bytes=$(sed -n 's/.* bytes=\([0-9]*\)$/\1/p' <<<"$last")
tb_ok "2000 answers do not fit in 100000 bytes: some kept, never more bytes ($last)" \
    test "${entries:-0}" -gt 100 -a "${entries:-0}" -lt 2000 -a "${bytes:-999999}" -le 100000
tb_like "$(tail -n 3 <<<"$out" | head -n 2 | tr '\n' '|')" \
    "^n0\.neg\.test A nxdomain .* hits=0 misses=2001 .*\|n1999\.neg\.test A nxdomain .* hits=1 misses=2001 " \
    "the least recently used was evicted (a miss), the newest kept (a hit)"
out=$("$RESOLVER" -v -c 100 "$TB_DNS" example.test/TXT example.test/TXT 2>&1)
tb_like "$(tr '\n' '|' <<<"$out")" \
    "cache_size=100\|example\.test TXT ok .* hits=0 misses=1 .* kept=0 v=spf1.*\|example\.test TXT ok .* hits=0 misses=2 .*\|cache entries=0 bytes=0\|$" \
    "an answer larger than the whole cache is not kept"

# No nameservers and no resolv.conf: recursion from the root, where NS
# records from the Internet decide where queries go.  Loopback is never
# asked and the LAN's reverse zones are answered locally, not asked.
out=$("$RESOLVER" -v -t 1 -r "$TB/no-resolv.conf" - \
    1.0.0.10.in-addr.arpa/PTR 9.1.168.192.in-addr.arpa/PTR 2>&1)
tb_is "$(line 1)" \
    "mode=recursion do-not-query-localhost=yes unblock-lan-zones=no cache_size=4194304" \
    "recursion: loopback never queried, LAN zones blocked"
tb_like "$(line 2)$(line 3)" \
    "^1\.0\.0\.10\.in-addr\.arpa PTR nxdomain .*9\.1\.168\.192\.in-addr\.arpa PTR nxdomain " \
    "recursion: a LAN reverse name is answered locally, never sent out"
# Forwarders (configured, or resolv.conf's) may be on loopback.
echo "nameserver 127.0.0.1" >"$TB/resolv.conf"
tb_is "$("$RESOLVER" -v -r "$TB/resolv.conf" - 2>&1 | head -n 1)" \
    "mode=forward do-not-query-localhost=no unblock-lan-zones=yes cache_size=4194304" \
    "resolv.conf's nameservers: forwarding, loopback allowed"
tb_is "$("$RESOLVER" -v "$TB_DNS" 2>&1 | head -n 1)" \
    "mode=forward do-not-query-localhost=no unblock-lan-zones=yes cache_size=4194304" \
    "configured nameservers: forwarding, loopback allowed"

# Failures are never kept: a port nobody answers on.
dead=$(tb_port 99)
out=$("$RESOLVER" -t 1 "127.0.0.1@$dead" example.test/TXT example.test/TXT \
    2>&1)
tb_like "$(line 1)" "^example\.test TXT timeout records=0 ttl=0 hits=0 misses=1 " \
    "no answer: timeout"
tb_like "$(line 2)" "^example\.test TXT timeout records=0 ttl=0 hits=0 misses=2 " \
    "a timeout is not kept: the next lookup asks again"

# The counter's limit is on queries to the network: what the cache
# knows is served whatever was spent before (a sender's SPF record
# must not blind DMARC to a record already known).
out=$("$RESOLVER" "$TB_DNS" limit/1 example.test/TXT example.test/TXT \
    other.test/TXT 2>&1)
tb_like "$(line 2)" "^example\.test TXT ok records=1 .* counted=2 cached=1 .* v=spf1 " \
    "limit reached: a cached answer is still served"
tb_like "$(line 3)" "^other\.test TXT limit records=0 .* counted=2 cached=1 " \
    "limit reached: a new name is not asked"

# The deadline: an attempt waits until it at most (not the 5 s timeout),
# and no query starts after it.
out=$("$RESOLVER" -t 5 "127.0.0.1@$dead" budget/1000 example.test/TXT \
    other.test/TXT 2>&1)
tb_like "$(line 1)" "^example\.test TXT timeout records=0 .* misses=1 " \
    "budget: the first lookup times out"
tb_like "$(line 2)" "^other\.test TXT limit records=0 .* counted=1 cached=0 " \
    "budget spent: the next one is not asked"
tb_done
