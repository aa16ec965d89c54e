-- wrk script for scripts/load-intake.sh: each request is a new lead from the website form,
-- with a phone and e-mail no other request uses (thread number and a per-thread counter), so
-- every submission creates a customer and publishes its lead event.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  local n = (id or 0) * 10000000 + counter
  local body = string.format(
    '{"full_name":"Nguyễn Thị Mai","phone":"09%08d","email":"mai%d@example.vn",' ..
    '"gender":"female","source":"website_form","consents":["email:marketing"],' ..
    '"form":"dang-ky-dau-tu","utm_source":"facebook"}', 10000000 + n, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

responses = {}
function response(status, headers, body)
  responses[status] = (responses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("responses")) do
      codes[status] = (codes[status] or 0) + count
    end
  end
  for status, count in pairs(codes) do
    io.write(string.format("status %d: %d\n", status, count))
  end
  io.write(string.format("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
