aapmt_c_test(test_ops_values)
aapmt_c_test(test_f32_math)
