# fuzz_replay: every committed seed and regression input of the libFuzzer
# targets (tests/fuzz/), run once each: fast and deterministic. The targets
# are built by clang into <build>/fuzz on first use (about a minute on two
# cores); the test skips (77) when clang or its libFuzzer runtime is missing.
# Only in the plain build: the fuzz build is its own ASan + UBSan build, and
# nesting it in the sanitizer pass would only run it twice. Fuzzing proper,
# for a bounded time: tests/fuzz/run.sh SECONDS (see tests/fuzz/README.md).
if(NOT AAPMT_SANITIZE)
  add_test(NAME fuzz_replay COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run.sh --replay)
  set_tests_properties(fuzz_replay PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200
    ENVIRONMENT "AAPMT_FUZZ_BUILD=${CMAKE_BINARY_DIR}/fuzz;AAPMT_FUZZ_WORK=${CMAKE_BINARY_DIR}/fuzz-work")
endif()
