-- Ends a job's lease (for its holder only) and books its next look: at next_ms, or earlier if
-- the job was rung while leased; with no next_ms, only if it was rung.
-- A: job, holder, next_ms ('' for none).
-- Returns 1, or 0 when the lease had been lost (the look is booked all the same).
local at = nil
if A[3] ~= '' then
  at = tonumber(A[3])
end
if settle(A[1], A[2], at) then
  return 1
end
return 0
