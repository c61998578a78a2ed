setmetatable({}, {__gc = function() while true do end end})
local t = setmetatable({}, {__gc = function() error("x") end})
return aapmt.experiment{name = "x"}
