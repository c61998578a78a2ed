-- Prints what a script sees of its command line: arg[0..n] and `...`.
print("arg[0]=" .. arg[0])
for i = 1, #arg do print("arg[" .. i .. "]=" .. arg[i]) end
print("...=" .. table.concat({...}, ","))
print("aapmt=" .. type(aapmt))
