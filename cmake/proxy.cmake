# nitro-enc-proxy (issue 8). The relay engine, PROXY v2 and the libcurl bridge live in src/net
# (libnesnet, defined by server.cmake); the program is src/proxy/. The parts of the program that
# are pure (allowlist, CONNECT head on the src/http request parser) go into libnesproxy so unit tests and fuzzers link them
# without main(). Parts are included in name order, so this one defers its work until
# server.cmake has defined libnesnet.
find_package(Threads REQUIRED)

function(nes_proxy_part)
  target_link_libraries(nesnet PUBLIC Threads::Threads)

  # libnesproxy: the program minus main(). The JSON log writer and the OTLP export of the relay
  # counters and log lines come from libnesobs (cmake/obs.cmake; src/obs), shared with the service.
  file(GLOB NES_PROXY_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/proxy/*.c)
  list(REMOVE_ITEM NES_PROXY_SRC ${CMAKE_SOURCE_DIR}/src/proxy/main.c)
  add_library(nesproxy STATIC ${NES_PROXY_SRC})
  target_link_libraries(nesproxy PUBLIC nesobs)
  target_link_libraries(nesproxy PUBLIC nesaws)
  target_include_directories(nesproxy PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(nesproxy PUBLIC nesnet neshttp Threads::Threads)

  if(NES_FUZZ)
    foreach(name fuzz_proxyv2 fuzz_allowlist fuzz_connect)
      if(TARGET ${name})
        target_link_libraries(${name} PRIVATE nesproxy)
      endif()
    endforeach()
  else()
    add_executable(nitro-enc-proxy ${CMAKE_SOURCE_DIR}/src/proxy/main.c)
    target_link_libraries(nitro-enc-proxy PRIVATE nesproxy)

    # unit tests of src/net's relay pieces and src/proxy (tests/unit/proxy/test_*.c)
    nes_unit_tests(tests/unit/proxy/test_*.c nesproxy)
  endif()
endfunction()
cmake_language(DEFER CALL nes_proxy_part)
