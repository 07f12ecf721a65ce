-- bench/wrk.lua: the wrk script of bench/run.
--
-- wrk decides once, in its main Lua state, whether the script defines
-- request(); if not, it sends its static request (the URL plus any -H
-- headers) at full speed.  So the mode comes from the environment, which
-- every Lua state sees when it loads this file:
--
--   (unset)                 only done() and setup() are defined: static
--                           requests (nginx's ceiling, /healthz, /whoami)
--   BENCH_WRK_MODE=orders   POST /api/v1/orders
--                           {"items":[{"option_id":ID,"quantity":1}]}
--                           with the bearer token of the next user (one
--                           token a line in $BENCH_WRK_TOKENS, cycled
--                           through; each thread starts at its own offset)
--                           and an option picked at random among
--                           $BENCH_WRK_OPTIONS (one id a line).  The files
--                           are read in init(), once per thread.
--   BENCH_WRK_MODE=points   POST /api/v1/points/charge {"amount":1}
--                           with the bearer token of the next user of
--                           $BENCH_WRK_TOKENS, cycled as above (a file of
--                           one token: every request from the same user).
--
-- done() prints one machine-readable line that bench/run parses:
--
--   BENCH requests=N duration_us=N rps=X p50_us=N p90_us=N p99_us=N
--         max_us=N non2xx=N connect=N read=N write=N timeout=N
--
-- non2xx is wrk's own count of answers with a status >= 400 (wrk counts
-- nothing else; bench/run reads the exact statuses from nginx's access
-- log); connect/read/write/timeout are socket errors.  Latencies are in
-- microseconds.

local tokens = {}
local options = {}
local counter = 0

-- Threads are numbered in setup(), which runs in the main Lua state before
-- each thread's init(); thread:set makes thread_no a global of the thread.
local threads_made = 0
function setup(thread)
	thread:set("thread_no", threads_made)
	threads_made = threads_made + 1
end

local function read_lines(path)
	local t = {}
	local f = assert(io.open(path, "r"))
	for line in f:lines() do
		if line ~= "" then
			t[#t + 1] = line
		end
	end
	f:close()
	assert(#t > 0, path .. " is empty")
	return t
end

local mode = os.getenv("BENCH_WRK_MODE")

-- The tokens of BENCH_WRK_TOKENS; each thread starts at its own offset.
local function init_tokens()
	tokens = read_lines(assert(os.getenv("BENCH_WRK_TOKENS")))
	local n = thread_no or 0
	counter = (n * 7919) % #tokens
	math.randomseed(os.time() * 1000 + n)
end

local function next_token()
	counter = counter + 1
	return tokens[(counter % #tokens) + 1]
end

if mode == "orders" then
	function init(args)
		init_tokens()
		options = read_lines(assert(os.getenv("BENCH_WRK_OPTIONS")))
	end

	function request()
		local token = next_token()
		local option = options[math.random(#options)]
		return wrk.format("POST", "/api/v1/orders", {
			["Authorization"] = "Bearer " .. token,
			["Content-Type"] = "application/json",
		}, '{"items":[{"option_id":' .. option .. ',"quantity":1}]}')
	end
elseif mode == "points" then
	function init(args)
		init_tokens()
	end

	function request()
		return wrk.format("POST", "/api/v1/points/charge", {
			["Authorization"] = "Bearer " .. next_token(),
			["Content-Type"] = "application/json",
		}, '{"amount":1}')
	end
elseif mode ~= nil and mode ~= "" then
	error("bench/wrk.lua: unknown BENCH_WRK_MODE " .. mode)
end

function done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		"BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
		"p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d " ..
		"timeout=%d\n",
		summary.requests, summary.duration,
		secs > 0 and summary.requests / secs or 0,
		latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max, e.status, e.connect,
		e.read, e.write, e.timeout))
end
