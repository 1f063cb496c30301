-- One page of an index (a sorted set of ids scored by creation), newest first.
-- A: index key, state ('' for any), cursor score ('' for the start), cursor id, limit, budget.
-- Entries at or after the cursor are skipped: (score, id) pairs order the listing. At most
-- `budget` entries are examined, so a filtered page may come back short with a cursor.
-- Returns {next_score, next_id, json...}; next_score is '' when the listing is complete.
local index, want, cscore, cid = A[1], A[2], A[3], A[4]
local limit, budget = tonumber(A[5]), tonumber(A[6])
local max = '+inf'
if cscore ~= '' then
  max = cscore
end
local cnum = tonumber(cscore)

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
local found, examined, offset, chunk = 0, 0, 0, 100
local last_score, last_id
local more = false
while not more do
  local rows = redis.call('ZRANGE', index, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset,
    chunk, 'WITHSCORES')
  if #rows == 0 then
    break
  end
  offset = offset + #rows / 2
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    if not (cnum and tonumber(score) == cnum and not before(id, cid)) then
      if found >= limit or examined >= budget then
        more = true
        break
      end
      examined = examined + 1
      local rec = redis.call('HMGET', L.job .. id, 'json', 'state', 'batch')
      if rec[1] and (want == '' or rec[2] == want) and shown(rec[3]) then
        out[#out + 1] = rec[1]
        found = found + 1
      end
      last_score, last_id = score, id
    end
  end
end
if more then
  out[1], out[2] = last_score, last_id
end
return out
