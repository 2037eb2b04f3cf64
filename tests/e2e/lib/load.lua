-- wrk script for the web-server e2e tests.
-- usage: wrk ... -s load.lua URL -- PATHS_FILE RELEASE...
-- Requests random paths from PATHS_FILE (one per line). Every body must start
-- and end with the marker "cutover-release:<name>" of one of the RELEASE
-- names. done() prints one line "cutover-e2e key=value ..." for the harness.
local threads = {}
local next_id = 0

function setup(thread)
	next_id = next_id + 1
	thread:set("id", next_id)
	table.insert(threads, thread)
end

function init(args)
	paths = {}
	for line in io.lines(args[1]) do
		if line ~= "" then paths[#paths + 1] = line end
	end
	names = {}
	for i = 2, #args do names[args[i]] = i - 1 end
	math.randomseed(os.time() * 100 + id)
	responses, ok, bad_status, foreign, torn = 0, 0, 0, 0, 0
	seen1, seen2, seen3 = 0, 0, 0
	first_bad = ""
end

function request()
	return wrk.format("GET", paths[math.random(#paths)])
end

local function marker(s)
	return s:match("cutover%-release:(%w+)")
end

function response(status, headers, body)
	responses = responses + 1
	if status < 200 or status > 299 then
		bad_status = bad_status + 1
		if first_bad == "" then first_bad = "status-" .. status end
		return
	end
	local head, tail = marker(body:sub(1, 80)), marker(body:sub(-80))
	if head == nil or head ~= tail then
		torn = torn + 1
		if first_bad == "" then
			first_bad = string.format("torn:%s:%s:%dbytes", head or "none", tail or "none", #body)
		end
		return
	end
	local n = names[head]
	if n == nil then
		foreign = foreign + 1
		if first_bad == "" then first_bad = "foreign-" .. head end
		return
	end
	ok = ok + 1
	if n == 1 then seen1 = seen1 + 1 elseif n == 2 then seen2 = seen2 + 1 else seen3 = seen3 + 1 end
end

function done(summary, latency, requests)
	local t = { responses = 0, ok = 0, bad_status = 0, foreign = 0, torn = 0,
		seen1 = 0, seen2 = 0, seen3 = 0 }
	local first_bad = "none"
	for _, thread in ipairs(threads) do
		for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
		local fb = thread:get("first_bad")
		if fb and fb ~= "" and first_bad == "none" then first_bad = fb end
	end
	local e = summary.errors
	io.write(string.format("cutover-e2e requests=%d responses=%d ok=%d bad_status=%d foreign=%d torn=%d " ..
		"seen1=%d seen2=%d seen3=%d connect=%d read=%d write=%d timeout=%d status=%d " ..
		"p99_ms=%.1f max_ms=%.1f first_bad=%s\n",
		summary.requests, t.responses, t.ok, t.bad_status, t.foreign, t.torn,
		t.seen1, t.seen2, t.seen3, e.connect, e.read, e.write, e.timeout, e.status,
		latency:percentile(99) / 1000, latency.max / 1000, first_bad))
end
