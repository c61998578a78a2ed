# The folder lock that keeps two runs out of one folder (tests/test_file_lock.c).
aapmt_c_test(test_file_lock)
