# The layering of core/ (tests/layers.lua): folders include one way, only
# core/cuda/ names CUDA, and no two objects of the library, nor two of the
# Lua binding, call each other.
add_test(NAME layers COMMAND $<TARGET_FILE:aapmt> run ${CMAKE_CURRENT_SOURCE_DIR}/layers.lua
  ${PROJECT_SOURCE_DIR} $<TARGET_FILE:aapmt_core> $<TARGET_OBJECTS:aapmt_binding> COMMAND_EXPAND_LISTS)
