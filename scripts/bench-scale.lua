-- wrk script for scripts/bench-scale.sh: each request asks for a different
-- manifest, so the measure is of lookups across the whole table, not of one
-- row kept hot. PATHS_FILE names a file of request paths, one a line.
local paths = {}

init = function(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
