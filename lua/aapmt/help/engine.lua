-- help() entries: threads, memory, devices, the program (format: lua/aapmt/help.lua).
return {area = "Engine", entries = {
  {"aapmt.set_num_threads(n)", "How many threads the ops use.", "aapmt.set_num_threads(2)"},
  {"aapmt.get_num_threads()", "How many threads the ops use.", "aapmt.get_num_threads()"},
  {"aapmt.manual_seed(n)", "Restarts the default generator, which draws when no seed is given.", "aapmt.manual_seed(1)"},
  {"aapmt.memory()", "Bytes of live tensor storage.", "aapmt.memory()"},
  {"aapmt.clock()", "Monotonic seconds, for timing.", "t0 = aapmt.clock(); x:matmul(x); print(aapmt.clock() - t0)"},
  {"aapmt.isatty(fd)", "Whether a file descriptor (2 for stderr) is a terminal.", "aapmt.isatty(2)"},
  {"aapmt.hold_interrupts(fn, ...)", "Calls fn(...) with Ctrl-C held until it returns, so its work is never left half done.", "aapmt.hold_interrupts(function() opt:step() end)"},
  {"aapmt.cuda()", "{built, devices, description, in_use, cached, peak, precision}: the GPU and its allocator.", "aapmt.cuda().devices"},
  {"aapmt.cuda_empty_cache()", "Returns the allocator's cached GPU bytes to the driver.", "aapmt.cuda_empty_cache()"},
  {"aapmt.set_matmul_precision(precision)", 'Matrix products on the GPU in "f32", "tf32" or "bf16".', 'aapmt.set_matmul_precision("tf32")'},
}}
