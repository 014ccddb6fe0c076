-- POST /v1/decisions, cycling through 1,000 prepared queries over 1,000 seeded persons.
local token = os.getenv("TUTELA_API_TOKEN")
local purposes = {
  '"purpose":"contract_performance","categories":["contact","traffic"]',
  '"purpose":"email_marketing","categories":["contact"],"channel":"email"',
  '"purpose":"phone_marketing","categories":["contact"],"channel":"phone"',
  '"purpose":"advertising_with_usage_data","categories":["usage","device"]',
  '"purpose":"service_quality_analysis","categories":["usage"],"recipient":"cloud_us"',
  '"purpose":"contract_performance","categories":["contact"],"country":"IN"',
}
local requests = {}
local n = 0
function init(args)
  for i = 1, 1000 do
    local body = '{"subject":"load-' .. (i % 1000) .. '",' .. purposes[(i % #purposes) + 1] .. '}'
    requests[i] = wrk.format("POST", "/v1/decisions",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
  end
end
function request()
  n = n + 1
  return requests[(n % 1000) + 1]
end
