# The built-in demo database (core/demo/demo_db.h).
aapmt_c_test(test_demo_db)
