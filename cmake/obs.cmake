# Logs and telemetry (issues 8 and 12): src/obs -> libnesobs, the floor both programs log and
# export through: the JSON log writer (src/obs/log.c) and the OTLP/HTTP exporter with its spans,
# queues and encoders (src/obs/otel/). A client of the outside world like src/aws: the exporter
# sends over libcurl with the AWS layer's egress settings. Linked by the service library
# (cmake/server.cmake) and by libnesproxy (cmake/proxy.cmake); its unit tests are
# tests/unit/obs/test_*.c. The service's own metrics encoder (src/enclave/otlp_metrics.c) stays
# with the service.
find_package(Threads REQUIRED)

file(GLOB NES_OBS_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/obs/*.c
     ${CMAKE_SOURCE_DIR}/src/obs/otel/*.c)
add_library(nesobs STATIC ${NES_OBS_SRC})
target_include_directories(nesobs PUBLIC ${CMAKE_SOURCE_DIR}/src)
# nesnet (defined by server.cmake, included later) is resolved when the build is generated.
target_link_libraries(nesobs PUBLIC nes nesaws nesnet PkgConfig::CURL Threads::Threads)

if(NOT NES_FUZZ)
  nes_unit_tests(tests/unit/obs/test_*.c nesobs)
elseif(TARGET fuzz_traceparent)
  # the traceparent / OTEL_* fuzzer (fuzz/fuzz_traceparent.c)
  target_link_libraries(fuzz_traceparent PRIVATE nesobs)
endif()
