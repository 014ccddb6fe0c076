-- Durable consent writes: each request records a consent or withdrawal for one of 100,000
-- persons; counts the 201s so the script can check that none was lost.
local token = os.getenv("TUTELA_API_TOKEN")
local threads = {}
local counter = 0
-- Globals, so that done() can read them from each thread.
created = 0
id = 0
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  id = wrk.thread:get("id")
end
function request()
  counter = counter + 1
  local granted = (counter % 2 == 0) and "true" or "false"
  local path = "/v1/subjects/w" .. id .. "-" .. (counter % 100000) .. "/consents"
  local body = '{"purpose":"email_marketing","channel":"email","granted":' .. granted .. ',"source":"load"}'
  return wrk.format("POST", path,
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("created") end
  io.write(string.format("acknowledged_201 %d\n", total))
end
