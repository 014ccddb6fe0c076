-- POST /v1/decisions/batch with 10,000 queries per request.
local token = os.getenv("TUTELA_API_TOKEN")
local req
function init(args)
  local q = {}
  for i = 1, 10000 do
    local p
    if i % 3 == 0 then
      p = '"purpose":"email_marketing","categories":["contact"],"channel":"email"'
    elseif i % 3 == 1 then
      p = '"purpose":"contract_performance","categories":["contact","traffic"]'
    else
      p = '"purpose":"advertising_with_usage_data","categories":["usage"]'
    end
    q[i] = '{"subject":"load-' .. (i % 1000) .. '",' .. p .. '}'
  end
  local body = '{"queries":[' .. table.concat(q, ",") .. ']}'
  req = wrk.format("POST", "/v1/decisions/batch",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end
function request()
  return req
end
