#!/bin/bash
# 0104-peer-redis - the private redis-server stores data and runs Lua
#
# Greylisting and rate limits keep their state in Redis with atomic
# server-side scripts and Redis's own clock; check that the peer the
# harness starts can do exactly that.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require redis
tb_init
tb_plan 6
peer_start_redis

# rcli - redis-cli against the private instance
rcli() {
	redis-cli -h 127.0.0.1 -p "$TB_PORT_REDIS" "$@" 2>&1
}

tb_is "$(rcli INFO server | tr -d '\r' | sed -n 's/^tcp_port://p')" \
    "$TB_PORT_REDIS" "redis answers on its private port"

value="tb-$$-$RANDOM"
tb_is "$(rcli SET tb:key "$value")" OK "SET is accepted"
tb_is "$(rcli GET tb:key)" "$value" "GET returns what SET stored"

incr="redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])"
rcli EVAL "$incr" 1 tb:counter 5 >/dev/null
tb_is "$(rcli EVAL "$incr" 1 tb:counter 7)" 12 \
    "EVAL runs a Lua script that increments a key (5 + 7)"

sha=$(rcli SCRIPT LOAD "return redis.call('TIME')[1] - ARGV[1]")
got=$(rcli EVALSHA "$sha" 0 "$(date +%s)")
tb_like "$got" '^(-1|0|1)$' \
    "EVALSHA of a loaded script reads Redis's clock (within 1 s of ours)"

rcli SET tb:ttl x EX 30 >/dev/null
tb_like "$(rcli TTL tb:ttl)" '^(29|30)$' "SET EX gives the key a TTL"
tb_done
