# tc_module(NAME SOURCES a.c b.c DEPS tc_core PkgConfig::X)
# Builds static library tc_NAME with src/ on its include path and records it
# so the toolconnect binary links every module.
function(tc_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(tc_${name} STATIC ${M_SOURCES})
  target_include_directories(tc_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(tc_${name} PUBLIC ${M_DEPS})
  set_property(GLOBAL APPEND PROPERTY TC_MODULES tc_${name})
endfunction()

# tc_unit_test(NAME SOURCES test_x.c DEPS tc_x)
# One runner executable per module (tests/unit/runner.c + the module's test
# files); the runner forks each test, so every test is isolated.
function(tc_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  # Several people add modules at once: a test file not written yet must not
  # break everyone's configure. It is reported, and the test is left out.
  foreach(src ${T_SOURCES})
    if(NOT EXISTS ${src})
      message(WARNING "unit_${name}: ${src} does not exist yet; test left out")
      return()
    endif()
  endforeach()
  add_executable(unit_${name} ${CMAKE_SOURCE_DIR}/tests/unit/runner.c ${T_SOURCES})
  target_include_directories(unit_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(unit_${name} PRIVATE ${T_DEPS})
  add_test(NAME unit.${name} COMMAND unit_${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit
    ENVIRONMENT "TC_SOURCE_DIR=${CMAKE_SOURCE_DIR};TC_BUILD_DIR=${CMAKE_BINARY_DIR}")
endfunction()
