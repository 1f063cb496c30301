-- One page of accepted batches, newest first. A: listed (the zset of accepted batches, scored
-- by acceptance, ms), cursor score ('' for the start), cursor id, limit, budget.
-- Members at or after the cursor are skipped: (score, id) pairs order the listing, as in
-- list.lua. A member whose record is gone (it expired) is dropped from the zset here. At most
-- `budget` members are examined, so a page may come back short with a cursor.
-- Returns {{next_score, next_id}, {id, field, value, ...}, ...}; next_score is '' when the
-- listing is complete.
local listed, cscore, cid = A[1], A[2], A[3]
local limit, budget = tonumber(A[4]), tonumber(A[5])
local max = '+inf'
if cscore ~= '' then
  max = cscore
end
local cnum = tonumber(cscore)

local out = { { '', '' } }
local found, examined, offset, chunk = 0, 0, 0, 100
local last_score, last_id
local more = false
while not more do
  local rows = redis.call('ZRANGE', listed, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset,
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
      local fields = redis.call('HGETALL', L.batchrec .. id)
      if #fields == 0 then
        redis.call('ZREM', listed, id)
        -- The members after it moved one place up.
        offset = offset - 1
      else
        local entry = { id }
        for j = 1, #fields do
          entry[#entry + 1] = fields[j]
        end
        out[#out + 1] = entry
        found = found + 1
      end
      last_score, last_id = string.format('%d', tonumber(score)), id
    end
  end
end
if more then
  out[1] = { last_score, last_id }
end
return out
