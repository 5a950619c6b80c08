#!/bin/bash
# 0432-milter-dmarc-miltertest - the real elemta-milter daemon driven by
# miltertest, DNS from the harness' unbound: an external client whose SPF
# passes for example.test gets dmarc=pass in the Authentication-Results
# inserted at index 0; one whose SPF does not align is rejected with
# 550 5.7.1 (dmarc_enforce = true, p=reject); several From domains are
# each evaluated, and the failing one (p=none) is reported.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"

milter_require unbound
tb_need miltertest miltertest
tb_init
tb_plan 5
peer_start_unbound

cat >"$TB/dmarc.lua" <<'EOF2'
-- -D port=N; prints "ok: NAME" per case, error() at the first wrong one
local sock = "inet:" .. port .. "@127.0.0.1"

local function message(ip, sender, from)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, "mail.test", ip) ~= nil then error("conninfo") end
	if mt.helo(conn, "mail.test") ~= nil then error("helo") end
	mt.macro(conn, SMFIC_MAIL, "i", "9A8B7C6D")
	if mt.mailfrom(conn, "<" .. sender .. ">") ~= nil then
		error("mailfrom")
	end
	if mt.rcptto(conn, "<alice@example.test>") ~= nil then error("rcpt") end
	for _, f in ipairs(from) do
		if mt.header(conn, "From", f) ~= nil then error("header") end
	end
	if mt.header(conn, "Subject", "DMARC") ~= nil then error("header") end
	if mt.eoh(conn) ~= nil then error("eoh") end
	if mt.bodystring(conn, "Hello DMARC.\r\n") ~= nil then error("body") end
	if mt.eom(conn) ~= nil then error("eom") end
	return conn
end

local conn = message("192.0.2.1", "user@example.test",
    { "User <user@example.test>" })
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("pass: not continue") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    " mx.elemta.test;\n\tspf=pass smtp.mailfrom=user@example.test;\n" ..
    "\tdkim=none;\n" ..
    "\tdmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.test",
    0) then
	error("pass: no dmarc=pass A-R at index 0")
end
print("ok: dmarc=pass in the inserted A-R")
mt.disconnect(conn)

conn = message("192.0.2.10", "user@other.test",
    { "User <user@example.test>" })
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("fail: not rejected") end
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
    "Rejected by DMARC policy for example.test") then
	error("fail: not 550 5.7.1")
end
print("ok: p=reject failure rejected with 550 5.7.1")
mt.disconnect(conn)

conn = message("192.0.2.1", "user@example.test",
    { "a@example.test", "b@other.test" })
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    " mx.elemta.test;\n\tspf=pass smtp.mailfrom=user@example.test;\n" ..
    "\tdkim=none;\n" ..
    "\tdmarc=fail (p=NONE sp=NONE dis=NONE) " ..
    "reason=\"From addresses in several domains\" header.from=other.test",
    0) then
	error("multi: no dmarc=fail A-R for the failing domain")
end
print("ok: several From domains: each evaluated, the failing one reported")
mt.disconnect(conn)
EOF2

TB_MILTER_AUTHSERV=mx.elemta.test
milter_start -- -o milter.dmarc_enforce=true -o milter.arc=false
LOG=$TB_MILTER_LOG

out=$(miltertest -D "port=$TB_PORT_MILTER" -s "$TB/dmarc.lua" 2>&1)
rc=$?
tb_is "$rc" 0 "miltertest script ran to the end"
[ "$rc" = 0 ] || tb_diag "$out" "$(tail -n 20 "$LOG")"
tb_like "$out" "ok: dmarc=pass in the inserted A-R" \
    "dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from in the A-R"
tb_like "$out" "ok: p=reject failure rejected with 550 5.7.1" \
    "p=reject failure: 550 5.7.1"
tb_like "$out" "ok: several From domains: each evaluated, the failing one reported" \
    "several From domains: each evaluated (RFC 7489 6.6.1)"
tb_like "$(cat "$LOG")" "9A8B7C6D: spf=pass dkim=none dmarc=pass\(example.test\) action=accept" \
    "summary log line with the DMARC result"
tb_done
