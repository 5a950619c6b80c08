# ctl.sh - shared set-up of the elemta-ctl tests (t/06xx), sourced after
# harness.sh (and the daemons' helpers the test uses)
#
#	ctl_init			skip unless elemta-ctl is built
#	ctl_sock NAME			the control socket of daemon NAME as
#					pol_start, milter_start and lmtp_conf
#					set it
#	ctl ARGS...			elemta-ctl on the embedded defaults,
#					the three sockets pointed at ctl_sock's
#	ctl_json_get JSON KEY...	a value out of a JSON document
#					(python3), KEY by KEY; "" if missing

CTL=${top_builddir:-.}/ctl/elemta-ctl

# ctl_init - skip the whole test unless the tool is built
ctl_init() {
	[[ -x $CTL ]] || tb_skip_all "elemta-ctl not built"
}

# ctl_sock NAME - where daemon NAME's control socket is in this test
# (policyd: the one pol_start called "policyd")
ctl_sock() {
	case $1 in
	policyd) echo "$TB/policyd/policyd.ctl" ;;
	milter) echo "$TB/milter/milter.ctl" ;;
	*) echo "$TB/$1.ctl" ;;
	esac
}

# ctl ARGS... - elemta-ctl with the test's sockets (ARGS may add -o's)
ctl() {
	"$CTL" -c /dev/null \
	    -o "milter.control_socket=$(ctl_sock milter)" \
	    -o "policyd.control_socket=$(ctl_sock policyd)" \
	    -o "lmtp_bridge.control_socket=$(ctl_sock lmtp-bridge)" "$@"
}

# ctl_json_get JSON KEY... - the value at KEY/KEY/... ("" if missing or
# if JSON does not parse)
ctl_json_get() {
	python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[1])
    for k in sys.argv[2:]:
        v = v[k]
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)
except Exception:
    print("")' "$@"
}
