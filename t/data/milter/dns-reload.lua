-- dns-reload.lua - miltertest script for t/0412-milter-dns-reload.t:
-- a connection opened before a SIGUSR1 that changes the [dns] section
-- finishes on the resolver it began with; one opened after gets the
-- new one.  -D port=N -D dir=DIR -D before=RESULT -D after=RESULT:
-- opens a connection, writes DIR/held, waits (at most 20 s) for
-- DIR/reloaded, which the test writes once the SIGUSR1 has gone through,
-- then sends the message of that connection (SPF result "before"
-- expected) and one on a new connection ("after").  Prints "ok: NAME" per case and
-- fails with error() at the first wrong answer.

local sock = "inet:" .. port .. "@127.0.0.1"

-- expect - our A-R says spf=RESULT for user@example.test
local function expect(conn, what, result)
	local ar = " mx.elemta.test;\n\tspf=" .. result ..
	    " smtp.mailfrom=user@example.test"
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error(what .. ": reply is not continue")
	end
	if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	    ar, 0) then
		error(what .. ": no A-R with spf=" .. result)
	end
	print("ok: " .. what .. " connection: spf=" .. result)
end

-- open - a connection from 192.0.2.1 (example.test's SPF address)
local function open()
	local conn = mt.connect(sock, 40, 0.25)
	if conn == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(conn, "out.example.test", "192.0.2.1") ~= nil then
		error("conninfo")
	end
	if mt.helo(conn, "out.example.test") ~= nil then error("helo") end
	return conn
end

-- send - the message of a connection, up to EOM
local function send(conn)
	if mt.mailfrom(conn, "<user@example.test>") ~= nil then
		error("mailfrom")
	end
	if mt.rcptto(conn, "<alice@example.test>") ~= nil then error("rcpt") end
	if mt.header(conn, "From", "User <user@example.test>") ~= nil then
		error("header")
	end
	if mt.eoh(conn) ~= nil then error("eoh") end
	if mt.bodystring(conn, "Hello.\r\n") ~= nil then error("body") end
	if mt.eom(conn) ~= nil then error("eom") end
end

local first = open()
local f = io.open(dir .. "/held", "w")
f:write("open\n")
f:close()
local waited = 0
while io.open(dir .. "/reloaded", "r") == nil do
	if waited > 200 then error("no reloaded file after 20 s") end
	mt.sleep(0.1)
	waited = waited + 1
end
send(first)
expect(first, "held", before)
mt.disconnect(first)

local second = open()
send(second)
expect(second, "new", after)
mt.disconnect(second)
