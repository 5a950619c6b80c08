#!/bin/bash
# user-patches.sh - wire Elemta into docker-mailserver's Postfix
#
# SYNOPSIS
#	docker-data/dms/config/user-patches.sh	(docker-mailserver runs it)
#	bash user-patches.sh			(by hand, or from your own)
#
# DESCRIPTION
#	docker-mailserver (DMS) builds /etc/postfix/main.cf at the first
#	start of a container: its postfix-main.cf override REPLACES a list
#	such as smtpd_milters, which would drop DMS's own milters, so the
#	add-on appends with postconf here, the last step of DMS's set-up
#	(before Postfix starts).  It runs once per container: a plain
#	restart keeps the edited main.cf and does not run it again.
#
#	What it sets (each step leaves what DMS put there):
#	- elemta_milter = { MILTER, default_action=ACTION }, and
#	  $elemta_milter FIRST in smtpd_milters and in non_smtpd_milters
#	  (DMS's $dkim_milter, $dmarc_milter, $rspamd_milter stay, after
#	  it): Elemta verifies DKIM/ARC on the message as received, before
#	  another milter changes it, and signs what local programs send.
#	  ACTION applies to Elemta alone: DMS's milter_default_action
#	  (accept) stays for its own milters.
#	- elemta_policy = check_policy_service { POLICY, timeout=10s,
#	  default_action=DUNNO }, and $elemta_policy FIRST in
#	  smtpd_recipient_restrictions, smtpd_data_restrictions and
#	  smtpd_end_of_data_restrictions.  First, because DMS begins those
#	  lists with permit_sasl_authenticated and permit_mynetworks, which
#	  end the evaluation: a check after them would never see the
#	  authenticated submissions that the per-SASL-user limits are for.
#	  Relay attempts are not counted: DMS's smtpd_relay_restrictions
#	  (defer_unauth_destination) refuses them before these lists are
#	  evaluated.  Without smtpd_relay_restrictions (relay control left
#	  to the recipient list) the check goes right after
#	  reject_unauth_destination instead.
#	Running it again changes nothing (each item is added only when
#	missing).  Postfix's virtual_transport is left alone: DMS delivers
#	to its Dovecot itself (see README, the LMTP bridge).
#
# ENVIRONMENT
#	DMS passes its own environment (mailserver.env) to this script.
#	ELEMTA_MILTER	elemta-milter's address as Postfix names it; "none"
#			leaves the milter out.  Default: unix:elemta/milter.sock
#			(in Postfix's queue directory) when the Elemta packages
#			are installed in this container, else the sidecar
#			inet:elemta-milter:8891.
#	ELEMTA_POLICY	elemta-policyd's, likewise: unix:elemta/policyd.sock or
#			inet:elemta-policyd:10031; "none" leaves it out.
#	ELEMTA_MILTER_DEFAULT_ACTION  what Postfix does when Elemta's milter
#			cannot be reached: tempfail (default), accept, reject.
#	ELEMTA_SBINDIR	where the packages put the daemons (/usr/sbin).
#	MAIL_CONFIG	Postfix's configuration directory (postconf's own).
# $elemta_milter, $elemta_policy, $smtpd_milters are Postfix's, not ours:
# shellcheck disable=SC2016
set -eu

sbindir=${ELEMTA_SBINDIR:-/usr/sbin}
if [[ -x $sbindir/elemta-milter ]]; then
	milter=${ELEMTA_MILTER:-unix:elemta/milter.sock}
else
	milter=${ELEMTA_MILTER:-inet:elemta-milter:8891}
fi
if [[ -x $sbindir/elemta-policyd ]]; then
	policy=${ELEMTA_POLICY:-unix:elemta/policyd.sock}
else
	policy=${ELEMTA_POLICY:-inet:elemta-policyd:10031}
fi
action=${ELEMTA_MILTER_DEFAULT_ACTION:-tempfail}
case $action in
tempfail | accept | reject) ;;
*)
	echo "elemta user-patches: ELEMTA_MILTER_DEFAULT_ACTION=$action:" \
		"not tempfail, accept or reject" >&2
	exit 1 ;;
esac

# has LIST ITEM - LIST (comma or space separated) contains ITEM
has() {
	[[ " $(tr ',\t\n' '   ' <<<"$1") " == *" $2 "* ]]
}

# first LIST ITEM - LIST with ITEM first, unless it is in it already
first() {
	if has "$1" "$2"; then
		echo "$1"
	else
		echo "$2${1:+, $1}"
	fi
}

# after_relay_check LIST ITEM - LIST with ITEM right after
# reject_unauth_destination (at the end without it), unless it is in it
after_relay_check() {
	local new

	if has "$1" "$2"; then
		echo "$1"
		return
	fi
	new=$(sed -E "s/(^|[ ,])reject_unauth_destination([ ,]|\$)/\\1reject_unauth_destination, $2\\2/" <<<"$1")
	[[ $new != "$1" ]] || new="$1${1:+, }$2"
	echo "$new"
}

# One read, one edit: Postfix waits for a main.cf changed in the last
# second to settle before it reads it again (DMS backdates the file for
# that), so a postconf per step would take seconds each.
params=(smtpd_milters non_smtpd_milters smtpd_relay_restrictions
	smtpd_recipient_restrictions smtpd_data_restrictions
	smtpd_end_of_data_restrictions)
declare -A cur
i=0
while IFS= read -r line; do
	cur[${params[i]}]=$line
	i=$((i + 1))
done < <(postconf -h "${params[@]}")
[[ $i -eq ${#params[@]} ]] || {
	echo "elemta user-patches: cannot read Postfix's main.cf" >&2
	exit 1
}

edits=()
if [[ $milter != none ]]; then
	edits+=("elemta_milter = { $milter, default_action=$action }"
		"smtpd_milters = $(first "${cur[smtpd_milters]}" '$elemta_milter')")
	# "$smtpd_milters" (not DMS's, but a common spelling) has it already
	case ${cur[non_smtpd_milters]} in
	'$smtpd_milters' | '${smtpd_milters}') ;;
	*) edits+=("non_smtpd_milters = $(first "${cur[non_smtpd_milters]}" '$elemta_milter')") ;;
	esac
fi
if [[ $policy != none ]]; then
	edits+=("elemta_policy = check_policy_service { $policy, timeout=10s, default_action=DUNNO }")
	if [[ -n ${cur[smtpd_relay_restrictions]} ]]; then
		rcpt=$(first "${cur[smtpd_recipient_restrictions]}" '$elemta_policy')
	else
		rcpt=$(after_relay_check "${cur[smtpd_recipient_restrictions]}" '$elemta_policy')
	fi
	edits+=("smtpd_recipient_restrictions = $rcpt")
	for p in smtpd_data_restrictions smtpd_end_of_data_restrictions; do
		edits+=("$p = $(first "${cur[$p]}" '$elemta_policy')")
	done
fi
[[ ${#edits[@]} -eq 0 ]] || postconf -e "${edits[@]}"
echo "elemta user-patches: Postfix asks Elemta (milter: $milter, policy: $policy)"
