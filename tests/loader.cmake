# The background data loader (core/data/loader.h).
aapmt_c_test(test_loader)
