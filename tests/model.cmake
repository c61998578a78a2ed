aapmt_c_test(test_model)
aapmt_c_test(test_recompute)
aapmt_c_test(test_metric_head)
