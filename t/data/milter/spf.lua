-- spf.lua - miltertest script for elemta-milter's SPF stage
-- (t/0411-milter-miltertest.t).  -D port=N; prints "ok: NAME" per case
-- and fails with error() at the first wrong answer.

local sock = "inet:" .. port .. "@127.0.0.1"
local ar_pass = "mx.elemta.test;\n\tspf=pass smtp.mailfrom=user@example.test"

-- message - one SMTP transaction up to EOM; returns the connection
local function message(ip, helo, macros, from, headers)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, helo, ip) ~= nil then error("conninfo") end
	if mt.helo(conn, helo) ~= nil then error("helo") end
	mt.macro(conn, SMFIC_MAIL, "i", "4A1B2C3D", table.unpack(macros))
	if mt.mailfrom(conn, from) ~= nil then error("mailfrom") end
	if mt.rcptto(conn, "<alice@example.test>") ~= nil then error("rcpt") end
	for _, h in ipairs(headers) do
		if mt.header(conn, h[1], h[2]) ~= nil then error("header") end
	end
	if mt.eoh(conn) ~= nil then error("eoh") end
	if mt.bodystring(conn, "Hello.\r\n") ~= nil then error("body") end
	if mt.eom(conn) ~= nil then error("eom") end
	return conn
end

local std = {
	{ "From", "User <user@example.test>" },
	{ "Subject", "test" },
}

-- 1: SPF pass, our A-R inserted at the top, the forged one removed
local conn = message("192.0.2.1", "out.example.test", {},
    "<user@example.test>", {
	{ "From", "User <user@example.test>" },
	{ "Authentication-Results", "mx.elemta.test; spf=pass smtp.mailfrom=forged@example.test" },
	{ "Authentication-Results", "other.example; spf=fail" },
    })
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("pass: reply is not continue") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", " " .. ar_pass, 0) then
	error("pass: no A-R inserted at index 0 with '" .. ar_pass .. "'")
end
print("ok: pass inserts A-R at the top")
if not (mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results")
    or mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results")) then
	error("pass: the forged A-R was not removed")
end
print("ok: forged A-R removed")
mt.disconnect(conn)

-- 2: SPF fail with spf_fail_action = reject
conn = message("192.0.2.99", "bad.example.test", {}, "<user@example.test>", std)
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("fail: not rejected") end
-- miltertest compares the whole reply: code, enhanced code and text
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.23",
    "SPF validation failed for user@example.test from 192.0.2.99") then
	error("fail: not 550 5.7.23")
end
print("ok: fail rejected with 550 5.7.23")
mt.disconnect(conn)

-- 3: an authenticated client is not SPF-checked
conn = message("192.0.2.99", "laptop", { "{auth_type}", "PLAIN",
    "{auth_authen}", "alice" }, "<user@example.test>", std)
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("auth: not accepted") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    " mx.elemta.test; none") then
	error("auth: A-R is not 'none'")
end
print("ok: authenticated client skipped")
mt.disconnect(conn)

-- 4: the null sender is checked with the HELO identity
conn = message("192.0.2.20", "nodmarc.test", {}, "<>", std)
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    " mx.elemta.test;\n\tspf=pass smtp.helo=nodmarc.test") then
	error("null sender: no smtp.helo result")
end
print("ok: null sender uses HELO")
mt.disconnect(conn)
