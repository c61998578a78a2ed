aapmt_c_test(test_checkpoint)
aapmt_c_test(test_pt_write)
