# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/record.sh: the run's records.  Everything the results file
# shows is first written to $POINTS ($WORK/points.jsonl), one JSON object
# a line, in the order it happened:
#
#   {"type":"run", ...}       the machine, the software, the BENCH_* values
#   {"type":"scenario", "scenario":NAME, ...}   a scenario starts, with the
#                             values its prose names
#   {"type":"point", "scenario":NAME, "point":POINT, "tool":..., ...}
#                             one measured point: its parameters, every
#                             figure, and "check" ("ok" or what is wrong)
#   {"type":"skipped", ...}   a point that could not be measured, and why
#   {"type":"audit", "scenario":NAME, ...}      the audit after a scenario
#   {"type":"end", "status":RC, "seconds":N}    how the run ended
#
# A point runner (lib/wrk.sh, lib/pgbench.sh, lib/rush.sh, lib/shop.sh,
# lib/memory.sh) appends its point's record; a scenario reads figures back
# with point_get, and adds what it measured around the point (what the
# database gained, the counters of GET /status) and its own checks with
# point_merge and point_problem, which rewrite that one record in place.
# bench/report.py turns the file into the results markdown and the plots,
# during the run and standalone.  Sourced by bench/run.

POINTS=''   # the records, $WORK/points.jsonl
SCENARIO='' # the scenario running, named in every point record

# json_obj KEY=VALUE...: a JSON object of the pairs; a VALUE that looks
# like a decimal number is a number, anything else a string.
json_obj() {
	local kv args=()
	for kv in "$@"; do
		args+=(--arg "${kv%%=*}" "${kv#*=}")
	done
	jq -nc "${args[@]}" '$ARGS.named | map_values(
		if test("^-?[0-9]+(\\.[0-9]+)?$") then tonumber else . end)'
}

# kv_json WORDS: a JSON object of the KEY=VALUE words of a load client's
# summary line (wrk's BENCH, rush's RUSH, shop's SHOP and SHOP_CLASS), as
# json_obj; words without "=" are left out.
kv_json() {
	local w kvs=()
	for w in $1; do
		case "$w" in *=*) kvs+=("$w") ;; esac
	done
	json_obj "${kvs[@]}"
}

# statuses_json "STATUS:COUNT ...": {"STATUS": COUNT, ...}.
statuses_json() {
	local w kvs=()
	for w in $1; do
		kvs+=("${w%%:*}=${w#*:}")
	done
	json_obj "${kvs[@]}"
}

# record_append JSON: append the object JSON to $POINTS, on one line.
record_append() {
	local line
	line=$(jq -ce 'if type == "object" then . else error("not an object") end' <<<"$1") ||
		die "not a JSON object, not recorded: $1"
	printf '%s\n' "$line" >>"$POINTS"
}

# scenario_begin NAME KEY=VALUE...: the scenario's opening record, with
# the values its section of the results names (see json_obj); every point
# recorded until the next one belongs to NAME.
scenario_begin() {
	local name=$1 params
	shift
	SCENARIO=$name
	params=$(json_obj "$@")
	record_append "$(jq -n --arg s "$name" --argjson p "$params" '{type: "scenario", scenario: $s} + $p')"
}

# point_record NAME JSON: append the record of point NAME (unique in the
# run): JSON, with its type, scenario and name, plus the tags of
# POINT_TAGS (a JSON object the caller sets for this call: what the point
# is in its scenario, e.g. {"strategy":"conditional","pattern":"hot"}).
point_record() {
	local name=$1 json=$2 tags=${POINT_TAGS:-}
	[ -n "$tags" ] || tags='{}'
	[ -z "$(point_get "$name" .point)" ] || die "two points named $name"
	record_append "$(jq -n --arg n "$name" --arg s "$SCENARIO" --argjson p "$json" \
		--argjson t "$tags" '{type: "point", scenario: $s, point: $n} + $t + $p')"
}

# point_get NAME FILTER: jq's FILTER (raw output) on the record of point
# NAME, e.g. point_get orders-x '.statuses["201"] // 0'.
point_get() {
	jq -r --arg n "$1" "select(.type == \"point\" and .point == \$n) | $2" "$POINTS"
}

# point_update NAME FILTER [JQ_ARGS...]: replace the record of point NAME
# by FILTER applied to it (JQ_ARGS are jq's, e.g. --arg t TEXT).
point_update() {
	local name=$1 filter=$2
	shift 2
	if ! jq -c --arg point_ "$name" "$@" \
		"if .type == \"point\" and .point == \$point_ then $filter else . end" \
		"$POINTS" >"$POINTS.new"; then
		die "could not update the record of $name"
	fi
	mv "$POINTS.new" "$POINTS"
}

# point_merge NAME JSON: add the fields of the object JSON to point NAME.
point_merge() {
	point_update "$1" '. + $j' --argjson j "$2"
}

# point_problem NAME TEXT: point NAME's check says TEXT first (TEXT
# replaces "ok"), and the terminal says so.
point_problem() {
	point_update "$1" '.check = (if .check == "ok" then $t else $t + "; " + .check end)' --arg t "$2"
	say "$1: $2"
}

# render_report: (re)write the results file and its plots from $POINTS,
# and keep a copy of the records next to it ($RUN_STAMP.jsonl), from
# which bench/report.py can render them again.  No bytecode is written
# (bench/report/__pycache__) into the tree under test.
render_report() {
	[ -n "$POINTS" ] && [ -s "$POINTS" ] || return 0
	cp "$POINTS" "$BENCH_RESULTS/$RUN_STAMP.jsonl" || say "could not copy $POINTS to $BENCH_RESULTS"
	if PYTHONDONTWRITEBYTECODE=1 python3 "$BENCH_DIR/report.py" --plots "$BENCH_RESULTS" "$POINTS" >"$RESULT.new"; then
		mv "$RESULT.new" "$RESULT"
	else
		say "bench/report.py failed (above); the records are in $BENCH_RESULTS/$RUN_STAMP.jsonl"
		rm -f "$RESULT.new"
		return 1
	fi
}
