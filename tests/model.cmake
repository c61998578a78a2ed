aapmt_c_test(test_model)
aapmt_c_test(test_metric_head)
