# Image decoding and ImageReward preprocessing against Pillow + torchvision,
# and the same on real AGIQA-3K JPEGs from shared/ (skipped without them).
aapmt_c_test(test_image)
add_test(NAME test_image_agiqa COMMAND test_image agiqa)
set_tests_properties(test_image_agiqa PROPERTIES SKIP_RETURN_CODE 77)
