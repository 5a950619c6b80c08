#!/bin/bash
# 0740-docker-mailserver - the docker-mailserver add-on
# (contrib/docker/docker-mailserver).  user-patches.sh against a Postfix
# configuration made the way docker-mailserver 15 makes it (its main.cf's
# milter and restriction lines, then what its set-up adds with OpenDKIM,
# OpenDMARC, Rspamd, policyd-spf and postgrey all on): Elemta's milter and
# policy check added first, DMS's entries kept in their order, DMS's
# milter_default_action kept, a second run changes nothing, no postconf
# warning; the in-image defaults (unix sockets) when the daemons are
# installed; "none"; a bad default action refused with main.cf untouched;
# the place of the check without smtpd_relay_restrictions.  The
# docker-compose.yml example parses (docker-compose config) with its
# services, network, ports and volumes; the supervisord program file
# parses (configparser), autostart=true, and names what the add-on's
# Dockerfile installs; elemta-dms-run holds the daemon back until DMS's
# set-up marker exists.  Then a message through a private Postfix that
# user-patches.sh configured (DMS's lists, an unreachable rspamd milter
# kept, milter_default_action = accept) to elemta-milter and
# elemta-policyd of this build: one A-R header, Elemta's, and the policy
# daemon asked.  Run by "make check-packaging".
# shellcheck disable=SC2016
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/harness.sh"
. "$top_srcdir/t/lib/peers.sh"
. "$top_srcdir/t/lib/milter.sh"
. "$top_srcdir/t/lib/policyd.sh"

A=$top_srcdir/contrib/docker/docker-mailserver
milter_require postfix smtp-sink swaks unbound
tb_need docker-compose docker-compose
tb_need python3 python3
tb_need curl curl
tb_init
tb_plan 36

# up DIR [VAR=VALUE]... - user-patches.sh on main.cf in DIR; its stdout and
# stderr in DIR/out
up() {
	local d=$1

	shift
	env MAIL_CONFIG="$d" ELEMTA_SBINDIR="$TB/nosbin" "$@" \
		bash "$A/user-patches.sh" >"$d/out" 2>&1
}
# pc DIR PARAM - main.cf's PARAM in DIR, unexpanded
pc() { postconf -c "$1" -h "$2"; }

# docker-mailserver 15's main.cf lines, then what its set-up adds
# (setup.d: dmarc_dkim_spf.sh, security/rspamd.sh, security/misc.sh)
DMS_RCPT='permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policyd-spf, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_unknown_recipient_domain, check_policy_service inet:127.0.0.1:10023'
DMS_DATA='permit_mynetworks, permit_sasl_authenticated, reject_unauth_pipelining'
dms_main() {
	mkdir -p "$1"
	# policyd-spf's service (DMS appends it; its _time_limit names it)
	printf '%s\n' 'policyd-spf unix - n n - 0 spawn' \
		'  user=policyd-spf argv=/usr/bin/policyd-spf' >"$1/master.cf"
	cat >"$1/main.cf" <<EOF
compatibility_level = 3.6
mynetworks = 127.0.0.0/8 [::1]/128 [fe80::]/64
smtpd_helo_restrictions = permit_mynetworks, reject_invalid_helo_hostname, permit
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
smtpd_recipient_restrictions = $DMS_RCPT
smtpd_client_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_sender_restrictions = \$dms_smtpd_sender_restrictions
smtpd_data_restrictions = $DMS_DATA
dms_smtpd_sender_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unknown_sender_domain
milter_protocol = 6
milter_default_action = accept
smtpd_milters = \$dkim_milter \$dmarc_milter \$rspamd_milter
non_smtpd_milters = \$dkim_milter
dkim_milter = inet:localhost:8891
dmarc_milter = inet:localhost:8893
rspamd_milter = inet:localhost:11332
policyd-spf_time_limit = 3600
EOF
}

# the sidecar: TCP by service name
S=$TB/sidecar
dms_main "$S"
tb_ok "user-patches.sh on DMS's main.cf" up "$S"
tb_is "$(pc "$S" smtpd_milters)" '$elemta_milter, $dkim_milter $dmarc_milter $rspamd_milter' \
	"smtpd_milters: Elemta first, DMS's three kept in their order"
tb_is "$(pc "$S" non_smtpd_milters)" '$elemta_milter, $dkim_milter' \
	"non_smtpd_milters: Elemta first, DMS's kept"
tb_is "$(pc "$S" elemta_milter)" '{ inet:elemta-milter:8891, default_action=tempfail }' \
	"elemta_milter: the sidecar over TCP, tempfail for Elemta alone"
tb_is "$(postconf -c "$S" -xh smtpd_milters 2>&1)" \
	'{ inet:elemta-milter:8891, default_action=tempfail }, inet:localhost:8891 inet:localhost:8893 inet:localhost:11332' \
	"expanded, Postfix sees Elemta then DMS's milters"
tb_is "$(pc "$S" milter_default_action)" accept \
	"DMS's milter_default_action (accept) stays for its own milters"
tb_is "$(pc "$S" smtpd_recipient_restrictions)" "\$elemta_policy, $DMS_RCPT" \
	"smtpd_recipient_restrictions: the check first, DMS's list (policyd-spf, postgrey) kept"
tb_is "$(pc "$S" elemta_policy)" \
	'check_policy_service { inet:elemta-policyd:10031, timeout=10s, default_action=DUNNO }' \
	"elemta_policy: the sidecar over TCP, DUNNO when it is down"
tb_is "$(pc "$S" smtpd_data_restrictions)" "\$elemta_policy, $DMS_DATA" \
	"smtpd_data_restrictions: the check first, DMS's kept"
tb_is "$(pc "$S" smtpd_end_of_data_restrictions)" '$elemta_policy' \
	"smtpd_end_of_data_restrictions: the check"
tb_is "$(pc "$S" smtpd_relay_restrictions)" \
	'permit_mynetworks permit_sasl_authenticated defer_unauth_destination' \
	"smtpd_relay_restrictions untouched"
tb_unlike "$(cat "$S/out")" 'warning|fatal|error' "no postconf warning" ||
	tb_diag "$(cat "$S/out")"
once=$(postconf -c "$S" -n)
tb_ok "a second run" up "$S"
tb_is "$(postconf -c "$S" -n)" "$once" "a second run changes nothing"
tb_unlike "$(cat "$S/out")" 'warning|fatal|error' "no postconf warning the second time"

# in the DMS image: the packaged daemons there, unix sockets by default
I=$TB/inimage
dms_main "$I"
mkdir -p "$TB/sbin"
b=$(cd "$top_builddir" && pwd)
for d in milter policyd; do
	ln -s "$b/$d/elemta-$d" "$TB/sbin/elemta-$d"
done
tb_ok "user-patches.sh with the daemons installed" up "$I" ELEMTA_SBINDIR="$TB/sbin"
tb_is "$(pc "$I" elemta_milter) | $(pc "$I" elemta_policy)" \
	'{ unix:elemta/milter.sock, default_action=tempfail } | check_policy_service { unix:elemta/policyd.sock, timeout=10s, default_action=DUNNO }' \
	"in-image: the unix sockets in Postfix's queue directory"

# ELEMTA_MILTER=none, ELEMTA_MILTER_DEFAULT_ACTION
N=$TB/none
dms_main "$N"
up "$N" ELEMTA_MILTER=none
tb_is "$(pc "$N" smtpd_milters)|$(pc "$N" elemta_milter 2>/dev/null)" \
	'$dkim_milter $dmarc_milter $rspamd_milter|' "ELEMTA_MILTER=none: the milter lists untouched"
B=$TB/bad
dms_main "$B"
before=$(md5sum <"$B/main.cf")
tb_ok "a bad ELEMTA_MILTER_DEFAULT_ACTION is refused" \
	sh -c "! env MAIL_CONFIG='$B' ELEMTA_MILTER_DEFAULT_ACTION=bounce bash '$A/user-patches.sh' 2>'$B/err'"
tb_is "$(md5sum <"$B/main.cf") $(grep -c 'ELEMTA_MILTER_DEFAULT_ACTION=bounce' "$B/err")" \
	"$before 1" "... saying why, main.cf untouched"

# relay control in the recipient list (no smtpd_relay_restrictions):
# the check goes after reject_unauth_destination
R=$TB/norelay
dms_main "$R"
postconf -c "$R" -e 'smtpd_relay_restrictions ='
up "$R"
tb_is "$(pc "$R" smtpd_recipient_restrictions)" \
	"permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination, \$elemta_policy, ${DMS_RCPT#*reject_unauth_destination, }" \
	"without smtpd_relay_restrictions: the check right after reject_unauth_destination"

# docker-compose.yml: it parses, and says what it should
C=$TB/compose
mkdir -p "$C"
cp "$A/docker-compose.yml" "$A/mailserver.env" "$C/"
tb_ok "docker-compose config parses docker-compose.yml" \
	sh -c "cd '$C' && docker-compose config >config.yml 2>config.err" ||
	tb_diag "$(cat "$C/config.err")"
tb_is "$(cd "$C" && docker-compose config --services 2>/dev/null | sort | tr '\n' ' ')" \
	"elemta-milter elemta-policyd mailserver " "three services: DMS, elemta-milter, elemta-policyd"
compose_facts() {
	python3 - "$C/config.yml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
m = s["mailserver"]
print("image", m["image"])
print("nets", *sorted({n for v in s.values() for n in v["networks"]}))
print("dms-ports", *sorted(int(p["target"]) for p in m["ports"]))
print("elemta-ports", *[k for k in ("elemta-milter", "elemta-policyd") if s[k].get("ports")])
print("commands", s["elemta-milter"]["command"], s["elemta-policyd"]["command"])
print("dms-config", *[v for v in m["volumes"] if v.endswith(":/tmp/docker-mailserver:rw")][:1] and ["mounted"])
print("state", *sorted(v.split(":")[0] for k in ("elemta-milter", "elemta-policyd")
                       for v in s[k]["volumes"] if ":/var/lib/elemta" in v))
print("depends", *sorted(m["depends_on"]))
print("env", *sorted(k + "=" + str(v) for k, v in m["environment"].items()
                     if k in ("ENABLE_OPENDKIM", "ENABLE_OPENDMARC", "ENABLE_POLICYD_SPF", "ENABLE_POSTGREY")))
EOF
}
facts=$(compose_facts 2>&1)
tb_is "$facts" "image ghcr.io/docker-mailserver/docker-mailserver:15.1.0
nets mail
dms-ports 25 143 465 587 993
elemta-ports
commands elemta-milter elemta-policyd
dms-config mounted
state elemta-milter elemta-policyd
depends elemta-milter elemta-policyd
env ENABLE_OPENDKIM=0 ENABLE_OPENDMARC=0 ENABLE_POLICYD_SPF=0 ENABLE_POSTGREY=0" \
	"compose: DMS's image and ports, one network, Elemta unpublished, state volumes, DMS's features off"
tb_like "$(grep -E '^ELEMTA_MILTER|^#ELEMTA_MILTER=' "$A/mailserver.env" | head -1)" \
	'inet:elemta-milter:8891$' "mailserver.env names the compose service the milter runs as"

# supervisor-elemta.conf and the Dockerfile that installs it
sup_facts() {
	python3 - "$A/supervisor-elemta.conf" <<'EOF'
import sys, configparser
c = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
c.read_file(open(sys.argv[1]))
for s in c.sections():
    p = c[s]
    print(s, p["command"], "autostart=" + p["autostart"], "autorestart=" + p["autorestart"])
EOF
}
tb_is "$(sup_facts 2>&1)" "program:elemta-milter /usr/local/bin/elemta-dms-run elemta-milter autostart=true autorestart=true
program:elemta-policyd /usr/local/bin/elemta-dms-run elemta-policyd autostart=true autorestart=true" \
	"supervisor-elemta.conf parses: two programs, autostart=true, through elemta-dms-run"
tb_is "$(grep -E '^COPY (supervisor-elemta.conf|elemta-dms-run|user-patches.sh) ' "$A/Dockerfile" | awk '{ print $3 }' | tr '\n' ' ')" \
	"/etc/supervisor/conf.d/elemta.conf /usr/local/bin/elemta-dms-run /usr/local/bin/elemta-user-patches " \
	"the Dockerfile installs them where supervisord and the README look"

# elemta-dms-run: nothing before DMS's marker, the daemon after it, on the
# configuration in DMS's directory
mkdir -p "$TB/dmsrun"
[[ $(id -u) -ne 0 ]] || chown nobody "$TB/dmsrun"
printf 'policyd {\n\tlisten = "inet:127.0.0.1:%s"\n\tstore_path = "%s"\n}\n' \
	"$TB_PORT_POLICY" "$TB/dmsrun/p.db" >"$TB/dmsrun/elemta.conf"
tb_spawn dmsrun "$TB/dmsrun/log" env ELEMTA_DMS_READY="$TB/dmsrun/CONTAINER_START" \
	ELEMTA_CONF="$TB/dmsrun/elemta.conf" ELEMTA_SBINDIR="$TB/sbin" \
	"$A/elemta-dms-run" elemta-policyd -o policyd.user=nobody
sleep 2
tb_ok "elemta-dms-run: no daemon before DMS's set-up is done" \
	sh -c "! (exec 3<>/dev/tcp/127.0.0.1/$TB_PORT_POLICY) 2>/dev/null"
touch "$TB/dmsrun/CONTAINER_START"
tb_ready dmsrun "on 127.0.0.1:$TB_PORT_POLICY" 20 pol_up "$TB_PORT_POLICY" "$TB/dmsrun/log"
tb_is "$(tr '\0' ' ' </proc/"$(tb_pid dmsrun)"/cmdline)" \
	"$TB/sbin/elemta-policyd -f -c $TB/dmsrun/elemta.conf -o policyd.user=nobody " \
	"... then the daemon in its place (exec), foreground, DMS's elemta.conf"
tb_stop dmsrun

# A message through a Postfix that user-patches.sh configured: DMS's
# lists (without the policy services DMS would run), its rspamd milter
# unreachable (accept: skipped), Elemta's milter and policyd of this build
peer_start_unbound
milter_start
pol_start policyd "$TB_PORT_POLICY" \
	-o "policyd.metrics_listen=inet:127.0.0.1:$TB_PORT_METRICS"
peer_start_smtp_sink
peer_start_postfix 'milter_default_action = accept' \
	"rspamd_milter = inet:127.0.0.1:$TB_PORT_RSPAMD_PROXY" \
	'smtpd_milters = $rspamd_milter' 'non_smtpd_milters =' \
	'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination' \
	'smtpd_recipient_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination' \
	"smtpd_data_restrictions = $DMS_DATA"
tb_ok "user-patches.sh on the running Postfix" up "$TB_POSTFIX_CONF" \
	ELEMTA_MILTER="inet:127.0.0.1:$TB_PORT_MILTER" ELEMTA_POLICY="inet:127.0.0.1:$TB_PORT_POLICY"
peer_postfix_age
postfix -c "$TB_POSTFIX_CONF" reload >/dev/null 2>&1 || tb_bail "postfix reload failed"
tb_is "$(pc "$TB_POSTFIX_CONF" smtpd_milters)" '$elemta_milter, $rspamd_milter' \
	"Postfix's smtpd_milters: Elemta's, then DMS's rspamd"
out=$(milter_send "through dms")
tb_like "$out" '250 2\.0\.0 Ok: queued' "a message through Postfix: queued" || tb_diag "$out"
f=$(milter_wait_delivered "through dms")
tb_like "$(milter_authres "$f")" '^spf=pass smtp\.mailfrom=user@example\.test' \
	"Elemta's milter checked it: spf=pass in its A-R header"
tb_is "$(milter_headers "$f" | grep -ci '^Authentication-Results:')" 1 \
	"one Authentication-Results header"
m=$(curl -s "http://127.0.0.1:$TB_PORT_METRICS/metrics")
tb_like "$(grep -F 'elemta_policyd_requests_total{state="RCPT"' <<<"$m")" ' [1-9][0-9]*$' \
	"elemta-policyd was asked at RCPT" || tb_diag "$(grep requests_total <<<"$m")"
tb_like "$(grep -F 'elemta_policyd_requests_total{state="END-OF-MESSAGE"' <<<"$m")" ' [1-9][0-9]*$' \
	"... and at END-OF-MESSAGE"
tb_done
