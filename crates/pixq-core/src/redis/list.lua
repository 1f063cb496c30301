-- One page of an index (a sorted set of ids scored by creation), newest first.
-- A: index key, state ('' for any), cursor score ('' for the start), cursor id, limit, budget.
-- Entries at or after the cursor are skipped: (score, id) pairs order the listing. At most
-- `budget` entries are examined, so a filtered page may come back short with a cursor.
-- Returns {next_score, next_id, json...}; next_score is '' when the listing is complete.
local index, want, cscore, cid = A[1], A[2], A[3], A[4]
local limit, budget = tonumber(A[5]), tonumber(A[6])

-- Jobs of a batch still being written are not listed: the batch is not there yet.
local visible = {}
local function shown(batch)
  if not batch or batch == '' then
    return true
  end
  if visible[batch] == nil then
    visible[batch] = redis.call('HGET', L.batchrec .. batch, 'status') ~= 'writing'
  end
  return visible[batch]
end

local out = { '', '' }
local next_score, next_id = page_newest_first(index, cscore, cid, limit, budget, function(id)
  local rec = redis.call('HMGET', L.job .. id, 'json', 'state', 'batch')
  if rec[1] and (want == '' or rec[2] == want) and shown(rec[3]) then
    out[#out + 1] = rec[1]
    return true, false
  end
  return false, false
end)
if next_score then
  out[1], out[2] = next_score, next_id
end
return out
