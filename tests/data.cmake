# The data part of the training engine (tests/test_data.c): the synthetic
# part always runs; test_data_real checks the real databases in shared/ and
# skips (77) when they are absent.
aapmt_c_test(test_data)
add_test(NAME test_data_real COMMAND test_data --real)
set_tests_properties(test_data_real PROPERTIES SKIP_RETURN_CODE 77)
