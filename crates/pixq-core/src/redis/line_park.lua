-- Puts a job in a token's wait line, in its batch's turn, unless it is in it already (it
-- then keeps its place). A: alias, job. Returns 1 when it was added.
if park(A[1], A[2]) then
  return 1
end
return 0
