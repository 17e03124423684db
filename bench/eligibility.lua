-- wrk script for bench/eligibility.py: POSTs eligibility checks as GraphQL, a different check each request.
-- Configured through the environment (set by the bench):
--   BENCH_TARGET   node | postgraphile
--   BENCH_BATCH    0 for the single-check operation, else the number of checks per request
--   BENCH_PEOPLE, BENCH_INSTITUTIONS, BENCH_REGIONS (comma-separated), BENCH_SEED
--   BENCH_TOKEN    the node's bearer token
--   BENCH_SINGLE, BENCH_MANY  the GraphQL documents (JSON-encoded strings)
-- Practitioner i is D%09d; its first institution is a function of i (bench/dataset.py: home_institution).

local target = os.getenv("BENCH_TARGET")
local batch = tonumber(os.getenv("BENCH_BATCH"))
local people = tonumber(os.getenv("BENCH_PEOPLE"))
local institutions = tonumber(os.getenv("BENCH_INSTITUTIONS"))
local single = os.getenv("BENCH_SINGLE")
local many = os.getenv("BENCH_MANY")
local regions = {}
for r in string.gmatch(os.getenv("BENCH_REGIONS"), "[^,]+") do regions[#regions + 1] = r end

local days = {}
local first = os.time({year = 2024, month = 1, day = 1, hour = 12})
for d = 0, 729 do days[d + 1] = os.date("%Y-%m-%d", first + d * 86400) .. "T10:00:00+08:00" end

local headers = {["Content-Type"] = "application/json"}
if target == "node" then headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end

local threads = {}

function setup(thread)
  thread:set("id", tostring(math.random(1, 1000000)))
  table.insert(threads, thread)
end

-- BENCH_VERIFY=1 reads every answer: a 200 with GraphQL errors in it counts as a failure (not while measuring).
bad = 0
if os.getenv("BENCH_VERIFY") == "1" then
  function response(status, headers, body)
    if status ~= 200 or string.find(body, '"errors"', 1, true) then
      if bad == 0 then io.stderr:write(body:sub(1, 1000) .. "\n") end
      bad = bad + 1
    end
  end
end

function init(args)
  math.randomseed(tonumber(os.getenv("BENCH_SEED")) + tonumber(id or "0"))
end

local function institution(j)
  local letter = (j % 10 == 0) and "P" or "H"
  return string.format("%s%s%05d", letter, regions[(j % #regions) + 1], math.floor(j / #regions))
end

-- One check: practitioner, usually at their own institution, sometimes elsewhere; a day in 2024-2025.
local function check()
  local i = math.random(1, people)
  local j = (i * 7919) % institutions + 1
  if math.random() < 0.1 then j = math.random(1, institutions) end
  return string.format("D%09d", i), institution(j), days[math.random(1, #days)], math.random() < 0.05
end

local function node_body()
  if batch == 0 then
    local code, inst, at, emergency = check()
    return string.format(
      '{"query":%s,"operationName":"Eligibility","variables":{"practitionerCode":"%s","institutionCode":"%s","at":"%s","emergency":%s}}',
      single, code, inst, at, tostring(emergency))
  end
  local items = {}
  for k = 1, batch do
    local code, inst, at, emergency = check()
    items[k] = string.format('{"practitionerCode":"%s","institutionCode":"%s","at":"%s","emergency":%s}',
      code, inst, at, tostring(emergency))
  end
  return string.format('{"query":%s,"operationName":"Eligibilities","variables":{"checks":[%s]}}',
    many, table.concat(items, ","))
end

local function postgraphile_body()
  if batch == 0 then
    local code, inst, at, emergency = check()
    return string.format(
      '{"query":%s,"variables":{"practitionerCode":"%s","institutionCode":"%s","at":"%s","emergency":%s}}',
      single, code, inst, at, tostring(emergency))
  end
  local codes, insts, ats, emergencies = {}, {}, {}, {}
  for k = 1, batch do
    local code, inst, at, emergency = check()
    codes[k], insts[k], ats[k], emergencies[k] = '"' .. code .. '"', '"' .. inst .. '"', '"' .. at .. '"', tostring(emergency)
  end
  return string.format('{"query":%s,"variables":{"codes":[%s],"insts":[%s],"ats":[%s],"emergencies":[%s]}}',
    many, table.concat(codes, ","), table.concat(insts, ","), table.concat(ats, ","), table.concat(emergencies, ","))
end

local body = (target == "node") and node_body or postgraphile_body

function request()
  return wrk.format("POST", nil, headers, body())
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + (thread:get("bad") or 0) end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"wrong":%d,'
      .. '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, wrong, latency:percentile(50.0), latency:percentile(99.0)))
end
