-- dkim.lua - miltertest script for elemta-milter's DKIM stage
-- (t/0422-milter-dkim-miltertest.t).  -D port=N, -D sig=VALUE (the
-- DKIM-Signature value of the message below, unfolded), -D ar=VALUE (the
-- Authentication-Results value expected for it).  Prints "ok: NAME" per
-- case and fails with error() at the first wrong answer.

local sock = "inet:" .. port .. "@127.0.0.1"

-- message - one SMTP transaction from an internal client (no SPF)
local function message(headers, body)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, "localhost", "127.0.0.1") ~= nil then
		error("conninfo")
	end
	if mt.helo(conn, "localhost") ~= nil then error("helo") end
	mt.macro(conn, SMFIC_MAIL, "i", "5D6E7F80")
	if mt.mailfrom(conn, "<user@example.test>") ~= nil then
		error("mailfrom")
	end
	if mt.rcptto(conn, "<alice@example.test>") ~= nil then error("rcpt") end
	for _, h in ipairs(headers) do
		if mt.header(conn, h[1], h[2]) ~= nil then error("header") end
	end
	if mt.eoh(conn) ~= nil then error("eoh") end
	if mt.bodystring(conn, body) ~= nil then error("body") end
	if mt.eom(conn) ~= nil then error("eom") end
	return conn
end

local signed = {
	{ "DKIM-Signature", sig },
	{ "From", "User <user@example.test>" },
	{ "To", "alice@example.test" },
	{ "Subject", "DKIM test" },
}
local body = "Hello DKIM.\r\nA second line.\r\n"

-- 1: a good signature: dkim=pass in the A-R inserted at the top
local conn = message(signed, body)
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("pass: not continue") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", " " .. ar, 0) then
	error("pass: no A-R '" .. ar .. "' at index 0")
end
print("ok: pass in the inserted A-R")
mt.disconnect(conn)

-- 2: the body changed in transit: rejected (dkim_on_bad_signature)
conn = message(signed, "Hello DKIM!\r\nA second line.\r\n")
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("fail: not rejected") end
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.20",
    "No passing DKIM signature found") then
	error("fail: not 550 5.7.20")
end
print("ok: tampered body rejected with 550 5.7.20")
mt.disconnect(conn)

-- 3: unsigned: dkim=none
conn = message({ { "From", "User <user@example.test>" } }, body)
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    " mx.elemta.test;\n\tdkim=none", 0) then
	error("none: no 'dkim=none' A-R")
end
print("ok: unsigned gives dkim=none")
mt.disconnect(conn)
