aapmt_c_test(test_checkpoint)
aapmt_c_test(test_pt_write)
# PyTorch loads what at_save_pt writes (tests/pt_write_torch.py), through
# Debian's python3 and its python3-torch; a skip (77) where that python
# cannot import torch.
if(EXISTS /usr/bin/python3)
  add_test(NAME pt_write_torch COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/pt_write_torch.py
    $<TARGET_FILE:test_pt_write> ${CMAKE_CURRENT_BINARY_DIR}/pt_write_torch)
else()
  add_test(NAME pt_write_torch COMMAND sh -c "echo 'skip: no /usr/bin/python3 (Debian python3 with python3-torch)'; exit 77")
endif()
set_tests_properties(pt_write_torch PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
