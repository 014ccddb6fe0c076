-- POST /v1/risk-checks for 1,000 seeded persons, with the facts of one German Credit applicant
-- and enough group data that no agency is asked (the body comes from $RISK_BODY_FILE).
local token = os.getenv("TUTELA_API_TOKEN")
local requests = {}
local n = 0
function init(args)
  local f = assert(io.open(os.getenv("RISK_BODY_FILE"), "r"))
  local facts = f:read("*a")
  f:close()
  for i = 1, 1000 do
    local body = '{"subject":"load-' .. (i % 1000) .. '","group_contract_months":36,"facts":' .. facts .. '}'
    requests[i] = wrk.format("POST", "/v1/risk-checks",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
  end
end
function request()
  n = n + 1
  return requests[(n % 1000) + 1]
end
function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
