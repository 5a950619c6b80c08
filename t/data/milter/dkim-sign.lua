-- dkim-sign.lua - miltertest script for elemta-milter's DKIM signing
-- (t/0442-milter-dkim-sign-miltertest.t).  -D port=N.  An authenticated
-- client ({auth_type} at MAIL FROM) from an external address gets its
-- message signed: DKIM-Signature headers inserted, printed as
-- "sig: VALUE" (line ends as \n) for the shell to verify; the same
-- message from an unauthenticated client gets none.  Prints "ok: NAME"
-- per case and fails with error() at the first wrong answer.
-- -D nsigs=N: the signatures expected (default 2).

local want = tonumber(nsigs or "2")

local sock = "inet:" .. port .. "@127.0.0.1"

-- message - one SMTP transaction from 192.0.2.5, authenticated if auth
local function message(auth, qid)
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, "client.remote.test", "192.0.2.5") ~= nil then
		error("conninfo")
	end
	if mt.helo(conn, "client.remote.test") ~= nil then error("helo") end
	-- one call: each mt.macro replaces the command's macro set
	if auth then
		mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_type}", "PLAIN",
			 "{auth_authen}", "user")
	else
		mt.macro(conn, SMFIC_MAIL, "i", qid)
	end
	if mt.mailfrom(conn, "<user@example.test>") ~= nil then
		error("mailfrom")
	end
	if mt.rcptto(conn, "<bob@remote.test>") ~= nil then error("rcpt") end
	if mt.header(conn, "From", "User <user@example.test>") ~= nil then
		error("header")
	end
	if mt.header(conn, "To", "bob@remote.test") ~= nil then
		error("header")
	end
	if mt.header(conn, "Subject", "signed by the milter") ~= nil then
		error("header")
	end
	if mt.eoh(conn) ~= nil then error("eoh") end
	if mt.bodystring(conn, "Hello Bob.\r\nSigned on the way out.\r\n")
	    ~= nil then
		error("body")
	end
	if mt.eom(conn) ~= nil then error("eom") end
	return conn
end

-- 1: authenticated: two signatures (RSA and Ed25519) inserted
local conn = message(true, "1A2B3C4D")
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("auth: not continue") end
if not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then
	error("auth: no DKIM-Signature inserted")
end
for i = 0, want - 1 do
	local v = mt.getheader(conn, "DKIM-Signature", i)
	if v == nil then error("auth: signature " .. i .. " missing") end
	if string.sub(v, 1, 6) ~= " v=1; " then
		error("auth: signature " .. i .. " not ' v=1; ...' (the "
		      .. "leading space, SMFIP_HDR_LEADSPC): " .. v)
	end
	print("sig: " .. string.gsub(v, "\n", "\\n"))
end
if mt.getheader(conn, "DKIM-Signature", want) ~= nil then
	error("auth: more than " .. want .. " signatures")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	error("auth: no A-R inserted")
end
print("ok: authenticated client signed")
mt.disconnect(conn)

-- 2: not authenticated, external: verified, not signed
conn = message(false, "5E6F7A8B")
if mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then
	error("noauth: signed")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	error("noauth: no A-R inserted")
end
print("ok: unauthenticated client not signed")
mt.disconnect(conn)
