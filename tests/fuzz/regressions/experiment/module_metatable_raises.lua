local M = require("aapmt.experiment")
M.is_declaration = nil
setmetatable(M, {__index = function() error("boom") end})
return aapmt.experiment{}
