-- Takes a job out of a token's wait line. A: alias, job. Returns 1 when it was there.
if unpark(A[1], A[2]) then
  return 1
end
return 0
