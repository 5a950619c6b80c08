#!/bin/bash
# 0106-peer-selftest-clamav - libclamav finds EICAR with the signatures
# we build
#
# A self-test of the peer, not of Elemta: it checks libclamav and the
# harness' signatures, for the milter's ClamAV stage to come (there is
# none yet; its own tests will be 04xx).
#
# No freshclam offline: the harness writes hash (.hdb) and body (.ndb)
# signatures for EICAR and clam.exe, which tb-clamscan loads exactly as
# the milter does (cl_load, CL_DB_STDOPT, every parser on).
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"

peer_require clamav swaks
tb_init
tb_plan 9
peer_clamav_db

# scan - tb-clamscan with the built database; "exit N" and its output
scan() {
	local out rc

	out=$("$TB_CLAMSCAN" -d "$TB_CLAMAV_DB" "$@" 2>&1)
	rc=$?
	printf 'exit %s\n%s\n' "$rc" "$out"
}

found='Test\.EICAR\.(HDB|NDB)\.UNOFFICIAL FOUND'

tb_is "$(stat -c %s "$TB_EICAR")" 68 "the EICAR file is 68 bytes, no newline"
tb_like "$(scan "$TB_EICAR")" "^exit 1
.*eicar\\.com: $found\$" "EICAR is found (exit 1)"

swaks --to alice@example.test --from sender@other.test \
    --header 'Subject: invoice' --attach "@$TB_EICAR" --dump-mail \
    >"$TB/eicar.eml" 2>"$TB/swaks.err"
tb_unlike "$(cat "$TB/eicar.eml")" 'EICAR-STANDARD' \
    "the attachment is base64-encoded: no EICAR string in the message"
tb_like "$(scan "$TB/eicar.eml")" "^exit 1
.*eicar\\.eml: $found\$" "EICAR in a base64 MIME attachment is found"

printf 'Subject: hello\n\nJust a note.\n' >"$TB/clean.eml"
tb_is "$(scan "$TB/clean.eml")" "exit 0
$TB/clean.eml: OK" "a clean message is OK (exit 0)"

tb_like "$(scan "$TB/clean.eml" "$TB_EICAR")" "^exit 1
.*clean\\.eml: OK
.*eicar\\.com: $found\$" "one infected file among clean ones: exit 1"

testfiles=/usr/share/clamav-testfiles
if [[ -f $testfiles/clam.exe && -f $testfiles/clam.zip ]]; then
	tb_like "$(scan "$testfiles/clam.exe" "$testfiles/clam.zip")" \
	    "^exit 1
.*clam\\.exe: Test\\.ClamExe\\.(HDB|NDB)\\.UNOFFICIAL FOUND
.*clam\\.zip: Test\\.ClamExe\\.(HDB|NDB)\\.UNOFFICIAL FOUND\$" \
	    "clam.exe is found, also inside a zip"
else
	tb_missing_some 1 "clamav-testfiles not installed"
fi

mkdir "$TB/empty"
tb_like "$("$TB_CLAMSCAN" -d "$TB/empty" "$TB_EICAR" 2>&1; echo "exit $?")" \
    "cl_load $TB/empty: .*
exit 2\$" "an empty signature directory is an error (exit 2)"
tb_like "$(scan "$TB/nosuch")" "^exit 2
(.|
)*$TB/nosuch: ERROR" "an unreadable file is an error (exit 2)"
tb_done
