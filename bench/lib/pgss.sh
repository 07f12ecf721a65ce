# shellcheck shell=bash
#
# bench/lib/pgss.sh: pg_stat_statements around a point: reset before it,
# the role stockade's statements after it (stockade and pgbench connect as
# stockade; bench/run's own queries run as postgres and do not count).
# Sourced by bench/run.

# pgss_reset: forget pg_stat_statements' counters (superuser).
pgss_reset() {
	stack_psql 'SELECT pg_stat_statements_reset()' >/dev/null
}

# pgss_json: the role stockade's statements since pgss_reset, biggest total
# time first, as a JSON array of {"calls", "total_ms", "mean_ms", "query"}
# (the query's first 120 characters, blanks squeezed); [] when it cannot
# be read.
pgss_json() {
	local rows
	rows=$(stack_psql "SELECT coalesce(json_agg(json_build_object(
	            'calls', calls, 'total_ms', round(total_exec_time::numeric, 1),
	            'mean_ms', round(mean_exec_time::numeric, 3),
	            'query', left(regexp_replace(query, '\s+', ' ', 'g'), 120))
	          ORDER BY total_exec_time DESC), '[]')
	    FROM pg_stat_statements
	    WHERE userid = 'stockade'::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = 'stockade')" 2>/dev/null) &&
		jq -ce 'arrays' <<<"$rows" 2>/dev/null || echo '[]'
}
