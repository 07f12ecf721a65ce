# shellcheck shell=bash
#
# bench/lib/cpu.sh: where the CPUs went during a point, from /proc: the
# machine's busy share and the shares of stockade, PostgreSQL, nginx and
# the rest (the load generator, the kernel, anything else).  Sourced by
# bench/run.

# cpu_sample: "TOTAL IDLE STOCKADE POSTGRES NGINX" in clock ticks: the
# machine's (all CPUs, since boot) and those of the stack's processes (each
# master and its direct children, alive now).
cpu_sample() {
	local st pg ng
	st=$(stack_pid stockade || echo -1)
	pg=$(stack_pid postgres || echo -1)
	ng=$(stack_pid nginx || echo -1)
	{
		head -n 1 /proc/stat
		cat /proc/[0-9]*/stat 2>/dev/null
	} | awk -v st="$st" -v pg="$pg" -v ng="$ng" '
		NR == 1 { for (i = 2; i <= 9; i++) t += $i; idle = $5 + $6; next }
		{
			# The command name may hold blanks: the fields that
			# matter follow the last ") ".
			match($0, /.*\) /)
			split(substr($0, RLENGTH + 1), f, " ")
			pid = $1; pp = f[2]; ticks = f[12] + f[13]
			if (pid == st || pp == st) a += ticks
			else if (pid == pg || pp == pg) b += ticks
			else if (pid == ng || pp == ng) c += ticks
		}
		END { printf "%d %d %d %d %d\n", t, idle, a, b, c }'
}

# cpu_json BEFORE AFTER: the machine's busy share between two samples and
# its split, in % of all CPUs: {"busy", "stockade", "postgres", "nginx",
# "rest"}; only {"busy"} when a process of the stack died in between (its
# ticks went away), null when no time passed.
cpu_json() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		t = y[1] - x[1]; if (t <= 0) { print "null"; exit }
		busy = (t - (y[2] - x[2])) * 100 / t
		s = (y[3] - x[3]) * 100 / t; p = (y[4] - x[4]) * 100 / t
		n = (y[5] - x[5]) * 100 / t; r = busy - s - p - n; if (r < 0) r = 0
		if (s < 0 || p < 0 || n < 0) { printf "{\"busy\":%.3f}\n", busy; exit }
		printf "{\"busy\":%.3f,\"stockade\":%.3f,\"postgres\":%.3f,\"nginx\":%.3f,\"rest\":%.3f}\n",
			busy, s, p, n, r
	}'
}

# cpu_text JSON: cpu_json's figures for the terminal.
cpu_text() {
	jq -r 'if . == null then "n/a"
		elif has("stockade") then "\(.busy | round)% (st \(.stockade | round), pg \(.postgres | round), ngx \(.nginx | round), rest \(.rest | round))"
		else "\(.busy | round)% (split n/a)" end' <<<"$1"
}
