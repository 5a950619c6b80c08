#!/bin/bash
# 0321-policyd-redis-script - the Redis limit script against the C limiter
#
# Runs t/0320-policyd-redis.t with ELEMTA_TEST_REDIS pointing at a
# private redis-server: the Lua script and policyd_limit_take() must
# agree on every answer and every stored log over random traffic (with an
# injected clock), Redis's own clock and the key's TTL, NOSCRIPT; the
# calendar quota script likewise, and Redis's clock picking the day;
# 1000 checks in one pipelined batch, then their refunds, likewise;
# deadlines (a script run late takes nothing); an answer of the wrong type
# fails the call and leaves the back-off as it was.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/policyd.sh"

peer_require_helper "${top_builddir:-.}/t/0320-policyd-redis.t"
peer_require redis
tb_init
tb_plan 3

peer_start_redis
pol_run_0320 "ELEMTA_TEST_REDIS=127.0.0.1:$TB_PORT_REDIS" 54
tb_done
