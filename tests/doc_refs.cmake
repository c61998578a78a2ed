# The project's notes (tests/doc_refs.lua): every "docs/NAME.md §N" in the
# sources, tests, experiments and README names a section that exists, and
# nothing cites notes outside the repository.
add_test(NAME doc_refs COMMAND $<TARGET_FILE:aapmt> run ${CMAKE_CURRENT_SOURCE_DIR}/doc_refs.lua
  ${PROJECT_SOURCE_DIR})
