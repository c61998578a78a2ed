# Optimizers, lr schedules, gradient clipping and metrics against PyTorch and
# scipy (fixtures: tests/fixtures/make_train_fixtures.py).
aapmt_c_test(test_train_math)
