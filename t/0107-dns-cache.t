#!/bin/bash
# 0107-dns-cache - lib/dns's answer cache against a real unbound: a
# repeated lookup is a hit (same records, counted in the resolver's
# stats and in the per-message counter), spelled in another case or
# with a final dot too; another type or name is a miss; a record stays
# until its TTL runs out (2 s here), then it is asked again; NXDOMAIN
# and "no data" are kept for the SOA's negative TTL, and at most an
# hour (libunbound says 32768 s when there is no SOA); a timeout is
# never kept; 10000 answers are kept at most, the least recently used
# going first.  A per-message counter's limit and deadline stop new
# queries, never answers already in the cache.  tb-resolver prints one line per lookup (see its
# header).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

RESOLVER=${top_builddir:-.}/t/tb-resolver
peer_require unbound
peer_require_helper "$RESOLVER"
tb_init
tb_plan 19

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

# At most 10000 answers: the least recently used goes first.
out=$("$RESOLVER" "$TB_DNS" n0.neg.test/A $(seq -f 'n%g.neg.test/A' 1 9999) \
    n0.neg.test/A n10000.neg.test/A n1.neg.test/A n0.neg.test/A 2>&1)
tb_like "$(tail -n 4 <<<"$out" | tr '\n' '|')" "^n0\.neg\.test A nxdomain .* hits=1 misses=10000 .* kept=10000 -\|n10000\.neg\.test A nxdomain .* hits=1 misses=10001 .* kept=10000 -\|n1\.neg\.test A nxdomain .* hits=1 misses=10002 .* kept=10000 -\|n0\.neg\.test A nxdomain .* hits=2 misses=10002 " \
    "10000 answers kept; the 10001st evicts the least recently used"

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
