-- Sweeps finished jobs whose retention has passed out of every index.
-- A: limit. Returns how many were swept.
return prune(tonumber(A[1]))
