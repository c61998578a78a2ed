# The background data loader (core/train/loader.h).
aapmt_c_test(test_loader)
