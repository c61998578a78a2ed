# Tests of the Lua binding and the aapmt program (included by
# tests/CMakeLists.txt). A test exits 77 to say it skipped.
#   lua_<name>   tests/lua/<name>.lua run by `aapmt run` (helpers in tests/lua/lib/)
#   repl_<name>  scripted REPL sessions: tests/repl/cases/<name>.in with the
#                expected .out (stdout), .err (stderr fragments) and .status
#   repl_pty     the REPL on a pseudo-terminal: completion, locals, Ctrl-C
#   repl_readme_session  the REPL session the README shows, output compared
#   cli          the command line: help, version, -e, run with args, exit codes
#   lua_module   a plain lua5.4 doing require "aapmt" from build/lua

set(AAPMT_LUA_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/lua)
set(AAPMT_REPL_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/repl)

if(AAPMT_SANITIZE)
  set(AAPMT_LUA_TEST_ENV "AAPMT_SANITIZE=1")
else()
  set(AAPMT_LUA_TEST_ENV "AAPMT_SANITIZE=0")
endif()

file(GLOB AAPMT_LUA_TESTS CONFIGURE_DEPENDS ${AAPMT_LUA_TEST_DIR}/*.lua)
foreach(script ${AAPMT_LUA_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${name})
  add_test(NAME lua_${name} COMMAND $<TARGET_FILE:aapmt> run ${script})
  set_tests_properties(lua_${name} PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "${AAPMT_LUA_TEST_ENV}")
endforeach()

# The learning tests train for minutes on both cores: the demo-learning test
# two models at once, one process a core; the metric-learning test one model
# on two threads. OpenMP's default wait policy spins between parallel
# regions, which slows steps about 20x when another job shares the cores.
foreach(name lua_demo_learning lua_metric_learning)
  if(TEST ${name})
    set_tests_properties(${name} PROPERTIES PROCESSORS 2
      ENVIRONMENT "${AAPMT_LUA_TEST_ENV};OMP_WAIT_POLICY=passive")
  endif()
endforeach()

file(GLOB AAPMT_REPL_CASES CONFIGURE_DEPENDS ${AAPMT_REPL_TEST_DIR}/cases/*.in)
foreach(input ${AAPMT_REPL_CASES})
  get_filename_component(name ${input} NAME_WE)
  get_filename_component(dir ${input} DIRECTORY)
  add_test(NAME repl_${name}
    COMMAND sh ${AAPMT_REPL_TEST_DIR}/run_case.sh $<TARGET_FILE:aapmt> ${dir}/${name})
  set_tests_properties(repl_${name} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()

# Keys reach the terminal with pauses (about 10 s), so it runs beside others.
add_test(NAME repl_pty
  COMMAND sh ${AAPMT_REPL_TEST_DIR}/pty.sh $<TARGET_FILE:aapmt> ${PROJECT_SOURCE_DIR})
set_tests_properties(repl_pty PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 90)
add_test(NAME repl_readme_session
  COMMAND sh ${AAPMT_REPL_TEST_DIR}/readme_session.sh $<TARGET_FILE:aapmt> ${PROJECT_SOURCE_DIR}/README.md)

add_test(NAME cli COMMAND sh ${AAPMT_REPL_TEST_DIR}/cli.sh $<TARGET_FILE:aapmt>)

find_program(AAPMT_LUA_INTERPRETER NAMES lua5.4 lua-5.4)
if(NOT AAPMT_LUA_INTERPRETER)
  set(AAPMT_LUA_INTERPRETER "")
endif()
add_test(NAME lua_module
  COMMAND sh ${AAPMT_REPL_TEST_DIR}/lua_module.sh "${AAPMT_LUA_INTERPRETER}"
          $<TARGET_FILE_DIR:aapmt_module> "${AAPMT_SANITIZE}")
set_tests_properties(lua_module PROPERTIES SKIP_RETURN_CODE 77)
