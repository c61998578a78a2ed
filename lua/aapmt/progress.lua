-- Progress of long work on stderr: one self-updating line on a terminal,
-- plain lines otherwise (a line every few seconds, and whenever the caller
-- marks a milestone such as an epoch's end), so logs stay readable. The
-- rate and ETA count only the work done by this process: a run resumed at
-- step 200 of 600 does not claim the first 200 as done in no time.
local a = aapmt

local progress = {}
progress.__index = progress

-- Seconds between plain lines when stderr is not a terminal.
progress.log_interval = tonumber(os.getenv("AAPMT_PROGRESS_SECONDS") or "") or 5

-- progress.new(total, unit [, label [, {done = already_done}]]);
-- :step(done [, extra [, milestone]]); :finish()
function progress.new(total, unit, label, opts)
  opts = opts or {}
  return setmetatable({total = total, unit = unit, label = label or "", started = a.clock(),
    first = opts.done or 0, tty = a.isatty(2), last = -math.huge}, progress)
end

function progress:step(done, extra, milestone)
  local now = a.clock()
  local interval = self.tty and 0.1 or progress.log_interval
  if now - self.last < interval and done < self.total and not milestone then return end
  self.last = now
  local elapsed = math.max(now - self.started, 1e-9)
  local rate = (done - self.first) / elapsed
  local eta = rate > 0 and string.format("%.0f s", (self.total - done) / rate) or "?"
  local line = string.format("%s%d/%d %s  %.2f %s/s  ETA %s%s", self.label, done, self.total, self.unit,
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
