aapmt_c_test(test_hostile)
