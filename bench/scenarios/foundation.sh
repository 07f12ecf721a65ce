# shellcheck shell=bash
#
# bench/scenarios/foundation.sh: nginx's ceiling, /healthz and
# /api/v1/whoami through stockade, with wrk.  Sourced by bench/run.

about_foundation() {
	printf 'req/s of nginx alone (the ceiling), /healthz and /api/v1/whoami through stockade, %s conns\n' 32
}

# Points foundation-TARGET, tagged {"target": TARGET}, TARGET ceiling,
# healthz or whoami.
scenario_foundation() {
	local conns=32 token
	token=$(stack_token 1) || die "minting a token failed"
	scenario_begin foundation conns="$conns" threads="$BENCH_THREADS" seconds="$BENCH_SECONDS"
	POINT_TAGS=$(json_obj target=ceiling) wrk_point foundation-ceiling "$conns" /bench/ceiling 200
	POINT_TAGS=$(json_obj target=healthz) wrk_point foundation-healthz "$conns" /healthz 200
	POINT_TAGS=$(json_obj target=whoami) wrk_point foundation-whoami "$conns" /api/v1/whoami 200 \
		-H "Authorization: Bearer $token"
	after_scenario foundation
}
