# The cluster bootstrap of SRCC, PLCC and KRCC (core/train/bootstrap.h); its
# percentiles are recomputed in Lua by tests/lua/test_bootstrap.lua.
aapmt_c_test(test_bootstrap)
