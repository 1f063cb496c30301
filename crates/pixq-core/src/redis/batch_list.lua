-- One page of accepted batches, newest first. A: listed (the zset of accepted batches, scored
-- by acceptance, ms), cursor score ('' for the start), cursor id, limit, budget.
-- Members at or after the cursor are skipped: (score, id) pairs order the listing, as in
-- list.lua. A member whose record is gone (it expired) is dropped from the zset here. At most
-- `budget` members are examined, so a page may come back short with a cursor.
-- Returns {{next_score, next_id}, {id, field, value, ...}, ...}; next_score is '' when the
-- listing is complete.
local listed, cscore, cid = A[1], A[2], A[3]
local limit, budget = tonumber(A[4]), tonumber(A[5])

local out = { { '', '' } }
local next_score, next_id = page_newest_first(listed, cscore, cid, limit, budget, function(id)
  local fields = redis.call('HGETALL', L.batchrec .. id)
  if #fields == 0 then
    redis.call('ZREM', listed, id)
    return false, true
  end
  local entry = { id }
  for j = 1, #fields do
    entry[#entry + 1] = fields[j]
  end
  out[#out + 1] = entry
  return true, false
end)
if next_score then
  out[1] = { string.format('%d', tonumber(next_score)), next_id }
end
return out
