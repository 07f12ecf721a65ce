# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/memory.sh: the memory of stockade's processes, recorded as a
# point.  Sourced by bench/run.

# memory_rows: for stockade's master, each worker and the reaper (pids from
# GET /status), "ROLE PID REQUESTS RSS PSS PRIVATE ANON" in KiB from
# /proc/PID/smaps_rollup.
memory_rows() {
	local master st tok
	master=$(stack_pid stockade) || return 1
	tok=$(stack_status_token) || return 1 # /status needs the admin role
	st=$(curl -sS --max-time 5 -H "Authorization: Bearer $tok" "$STACK_URL/status") || return 1
	{
		printf 'master %s -\n' "$master"
		jq -r '.workers[] | "worker \(.pid) \(.requests)"' <<<"$st"
		jq -r '"reaper \(.reaper.pid) -"' <<<"$st"
	} | while read -r role pid reqs; do
		awk -v role="$role" -v pid="$pid" -v reqs="$reqs" '
			/^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 }
			/^Private_(Clean|Dirty):/ { priv += $2 } /^Anonymous:/ { anon = $2 }
			END { printf "%s %s %s %d %d %d %d\n", role, pid, reqs, rss, pss, priv, anon }' \
			"/proc/$pid/smaps_rollup"
	done
}

# worker_mappings PID: the mappings that make up PID's Rss, largest first
# (the first 12), "NAME RSS PRIVATE" in KiB from /proc/PID/smaps.
worker_mappings() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anonymous]"; sub(/.*\//, "", name); next }
		/^Rss:/ { rss[name] += $2 } /^Private_(Clean|Dirty):/ { priv[name] += $2 }
		END { for (n in rss) if (rss[n] > 0) printf "%s %d %d\n", n, rss[n], priv[n] }' "/proc/$1/smaps" |
		sort -k2,2nr | head -n 12
}

# memory_point NAME [mappings]: the memory of stockade's processes now,
# recorded as point NAME (lib/record.sh, with the tags of POINT_TAGS):
# tool "memory", "rows" ([{role, pid, requests, rss_kib, pss_kib,
# private_kib, anon_kib}], null when GET /status or /proc could not be
# read), with "mappings", the Rss of the first worker by mapping
# ([{name, rss_kib, private_kib}], worker_mappings) and its "worker" pid.
memory_point() {
	local name=$1 rows worker maps=null rowsj=null
	if rows=$(memory_rows) && [ -n "$rows" ]; then
		rowsj=$(jq -Rsc 'split("\n") | map(select(. != "") | split(" ") |
			{role: .[0], pid: (.[1] | tonumber), requests: (.[2] | tonumber? // null),
			 rss_kib: (.[3] | tonumber), pss_kib: (.[4] | tonumber),
			 private_kib: (.[5] | tonumber), anon_kib: (.[6] | tonumber)})' <<<"$rows")
		worker=$(awk '$1 == "worker" { print $2; exit }' <<<"$rows")
		if [ "${2:-}" = mappings ] && [ -n "$worker" ] && [ -r "/proc/$worker/smaps" ]; then
			maps=$(worker_mappings "$worker" | jq -Rsc 'split("\n") | map(select(. != "") | split(" ") |
				{name: .[0], rss_kib: (.[1] | tonumber), private_kib: (.[2] | tonumber)})')
		fi
		say "$name: $(jq -r '[.[] | select(.role == "worker")] | if length == 0 then "no workers" else
			"workers mean Rss \(map(.rss_kib) | add / length | round) KiB, Pss \(map(.pss_kib) | add / length | round) KiB, Private \(map(.private_kib) | add / length | round) KiB, Anonymous \(map(.anon_kib) | add / length | round) KiB" end' <<<"$rowsj")"
	else
		say "$name: could not read GET /status or /proc"
	fi
	point_record "$name" "$(jq -n --argjson rows "$rowsj" --argjson maps "$maps" --arg worker "${worker:-}" \
		'{tool: "memory", rows: $rows, worker: ($worker | tonumber? // null), mappings: $maps,
		  check: (if $rows == null then "**could not read GET /status or /proc**" else "ok" end)}')"
}
