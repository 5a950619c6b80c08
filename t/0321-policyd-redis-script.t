#!/bin/bash
# 0321-policyd-redis-script - the Redis limit script against the C limiter
#
# Runs t/0320-policyd-redis.t with ELEMTA_TEST_REDIS pointing at a
# private redis-server: the Lua script and policyd_limit_take() must
# agree on every answer and every stored log over random traffic (with an
# injected clock), Redis's own clock and the key's TTL, NOSCRIPT; the
# calendar quota script likewise, and Redis's clock picking the day.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

T0320=${top_builddir:-.}/t/0320-policyd-redis.t
[ -x "$T0320" ] || tb_skip_all "t/0320-policyd-redis.t not built"
peer_require redis
tb_init
tb_plan 3

peer_start_redis
out=$(ELEMTA_TEST_REDIS=127.0.0.1:$TB_PORT_REDIS "$T0320" 2>&1)
rc=$?
tb_is "$rc" 0 "0320 against redis-server exits 0" || tb_diag "$out"
tb_is "$(grep -c '^not ok' <<<"$out")" 0 "no check failed" ||
    tb_diag "$(grep -A3 '^not ok' <<<"$out")"
tb_is "$(grep -c '^ok' <<<"$out")" 19 "all 19 checks passed" ||
    tb_diag "$out"
tb_done
