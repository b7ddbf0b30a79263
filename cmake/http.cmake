# The strict HTTP/1.1 codec (issue 6): src/http -> libneshttp (pure, like libnes), its unit tests
# under tests/unit/http/ (not in the top-level glob) and the fuzz/fuzz_http_*.c targets (built by
# the top-level fuzz glob; linked to the codec here).

file(GLOB NES_HTTP_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/http/*.c)
add_library(neshttp STATIC ${NES_HTTP_SRC})
target_include_directories(neshttp PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(neshttp PUBLIC nes)

if(NOT NES_FUZZ)
  nes_unit_tests(tests/unit/http/test_*.c neshttp)
else()
  file(GLOB NES_HTTP_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_http_*.c)
  foreach(src ${NES_HTTP_FUZZERS})
    get_filename_component(name ${src} NAME_WE)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
    target_link_libraries(${name} PRIVATE neshttp)
  endforeach()
endif()

# bench/core/bench_http_codec.c is built by the top-level bench glob (linked to libnes only).
if(TARGET bench_http_codec)
  target_link_libraries(bench_http_codec PRIVATE neshttp)
endif()
