#!/usr/bin/python3
# prom-exprs.py - the PromQL of a Grafana dashboard and of Prometheus rule
# files, and checking one expression against a running Prometheus
#
# SYNOPSIS
#	prom-exprs.py list DASHBOARD.json RULES.yml...
#	prom-exprs.py check URL NEED_DATA EXPR
#	prom-exprs.py lint RULES.yml [TESTS.yml]
#
# DESCRIPTION
#	list prints one line per expression, KIND<TAB>WHAT<TAB>EXPR: KIND is
#	"dashboard" (WHAT: the panel's title and refId) or "rule" (WHAT: the
#	alert or record name); newlines in EXPR become spaces, and Grafana's
#	interval variables ($__rate_interval, $__interval, $__range) become
#	1m, as Grafana would substitute them for a short time range.  An
#	unknown $variable is an error (exit 2).
#
#	check asks the Prometheus at URL for the metric names it holds
#	(/api/v1/label/__name__/values), then evaluates EXPR now
#	(/api/v1/query).  It prints "ok: N series" and exits 0, or prints
#	what is wrong and exits 1: a name in EXPR that is neither a metric
#	Prometheus has nor a PromQL function or keyword, a {__name__=~"RE"}
#	matcher that matches no metric, a query error, or (NEED_DATA=1) an
#	empty result.
#
#	lint prints what an alert rule lacks of what ours all have: a for:
#	duration, a severity label (critical, warning or info), summary and
#	description annotations, and (TESTS.yml given: promtool's unit
#	tests) a test naming it; it exits 1 if anything is missing.
import json
import re
import sys
import urllib.parse
import urllib.request

GRAFANA_VARS = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "1m",
    "${__interval}": "1m",
    "$__range": "1m",
    "${__range}": "1m",
}

# PromQL words that are not metric names (functions, aggregations,
# operators and modifiers): an identifier followed by "(" is a function
# anyway; these also appear without one.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring",
    "group_left", "group_right", "offset", "bool", "atan2", "inf", "nan",
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk",
    "bottomk", "quantile", "count_values", "group",
}


def dashboard_exprs(path):
    """(what, expr) of every target of every panel, rows included"""
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(("%s (%s)" % (p.get("title", "?"),
                                             t.get("refId", "?")),
                                t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return out


def rules(path):
    """every rule of every group of a rule file"""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    return [r for g in doc.get("groups", []) for r in g.get("rules", [])]


def rule_exprs(path):
    """(what, expr) of every rule of every group"""
    return [(r.get("alert") or r.get("record") or "?", str(r["expr"]))
            for r in rules(path)]


def lint(path, tests=None):
    """what each alert of a rule file lacks, one line each"""
    out = []
    tested = None
    if tests is not None:
        with open(tests) as f:
            tested = set(re.findall(r'alertname="([^"]+)"', f.read()))
    for r in rules(path):
        name = r.get("alert")
        if name is None:
            continue
        if tested is not None and name not in tested:
            out.append("%s: no unit test in %s" % (name, tests))
        if "for" not in r:
            out.append("%s: no for:" % name)
        sev = (r.get("labels") or {}).get("severity")
        if sev not in ("critical", "warning", "info"):
            out.append("%s: severity %r" % (name, sev))
        ann = r.get("annotations") or {}
        for a in ("summary", "description"):
            if not ann.get(a):
                out.append("%s: no %s annotation" % (name, a))
    return out


def substitute(expr):
    """Grafana's interval variables replaced; an unknown one is fatal"""
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    m = re.search(r"\$\{?[A-Za-z_]\w*", expr)
    if m:
        sys.exit("prom-exprs: unknown variable %s in: %s" % (m.group(0),
                                                           expr))
    return " ".join(expr.split())


def metric_names(expr):
    """the metric names EXPR uses, and the __name__ regexes it matches"""
    regexes = re.findall(r'__name__\s*=~\s*"((?:[^"\\]|\\.)*)"', expr)
    names = set(re.findall(r'__name__\s*=\s*"([^"]*)"', expr))
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)	# strings
    s = re.sub(r"\{[^}]*\}", " ", s)		# label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)		# ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)"
               r"\s*\([^)]*\)", " ", s)		# label lists
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names, regexes


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def check(url, need_data, expr):
    known = set(get(url + "/api/v1/label/__name__/values")["data"])
    names, regexes = metric_names(expr)
    missing = sorted(n for n in names if n not in known)
    if missing:
        return "no such metric: %s" % ", ".join(missing)
    for rx in regexes:
        if not any(re.fullmatch(rx, n) for n in known):
            return "__name__=~\"%s\" matches no metric" % rx
    if not names and not regexes:
        return "names no metric at all"
    q = urllib.parse.urlencode({"query": expr})
    try:
        res = get(url + "/api/v1/query?" + q)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        try:
            body = json.loads(body).get("error", body)
        except ValueError:
            pass
        return "query error (HTTP %d): %s" % (e.code, body)
    if res.get("status") != "success":
        return "query error: %s" % res.get("error", res)
    data = res["data"]["result"]
    n = len(data) if isinstance(data, list) else 1
    if need_data and n == 0:
        return "no data (metrics: %s)" % ", ".join(sorted(names) + regexes)
    return None, n


def main(argv):
    if len(argv) >= 3 and argv[1] == "list":
        for what, expr in dashboard_exprs(argv[2]):
            print("dashboard\t%s\t%s" % (what, substitute(expr)))
        for path in argv[3:]:
            for what, expr in rule_exprs(path):
                print("rule\t%s\t%s" % (what, substitute(expr)))
        return 0
    if len(argv) in (3, 4) and argv[1] == "lint":
        problems = lint(argv[2], argv[3] if len(argv) == 4 else None)
        for p in problems:
            print(p)
        return 1 if problems else 0
    if len(argv) == 5 and argv[1] == "check":
        r = check(argv[2], argv[3] == "1", argv[4])
        if isinstance(r, str):
            print(r)
            return 1
        print("ok: %d series" % r[1])
        return 0
    sys.stderr.write("usage: prom-exprs.py list DASHBOARD RULES... | "
                     "check URL NEED_DATA EXPR | lint RULES [TESTS]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
