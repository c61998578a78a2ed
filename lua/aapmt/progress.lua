-- Progress of long work on stderr: one self-updating line on a terminal,
-- plain lines otherwise (so logs stay readable). Reports rate and ETA.
local a = aapmt

local progress = {}
progress.__index = progress

-- progress.new(total, unit [, label]); :step(done [, extra]) ; :finish()
function progress.new(total, unit, label)
  return setmetatable({total = total, unit = unit, label = label or "", started = a.clock(),
    tty = a.isatty(2), last = -math.huge}, progress)
end

function progress:step(done, extra)
  local now = a.clock()
  -- On a terminal redraw at most 10 times a second; in a log, a line per step.
  if self.tty and now - self.last < 0.1 and done < self.total then return end
  self.last = now
  local elapsed = math.max(now - self.started, 1e-9)
  local rate = done / elapsed
  local eta = rate > 0 and (self.total - done) / rate or 0
  local line = string.format("%s%d/%d %s  %.2f %s/s  ETA %.0f s%s", self.label, done, self.total, self.unit,
    rate, self.unit, eta, extra and ("  " .. extra) or "")
  if self.tty then
    io.stderr:write("\r\27[K", line)
  else
    io.stderr:write(line, "\n")
  end
end

function progress:finish()
  if self.tty then io.stderr:write("\n") end
end

return progress
