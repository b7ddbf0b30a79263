# The HTTPS service (issues 3 and 6): src/net (endpoint URIs, event loop), src/enclave (the
# service, on the HTTP codec of src/http), its unit tests under tests/unit/server/ (linked to the
# service library, so not in the top-level glob).

pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)
find_package(Threads REQUIRED)

# ---- libnesnet: endpoint URIs, event loop (shared with the proxy) ----------------------------------------
file(GLOB NES_NET_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/net/*.c)
add_library(nesnet STATIC ${NES_NET_SRC})
target_link_libraries(nesnet PUBLIC nes Threads::Threads)
target_include_directories(nesnet PUBLIC ${CMAKE_SOURCE_DIR}/src)

# ---- the OpenAPI description, embedded ---------------------------------------------------------
set(NES_OPENAPI_SRC ${CMAKE_SOURCE_DIR}/docs/openapi.yaml)
set(NES_OPENAPI_C ${CMAKE_BINARY_DIR}/generated/openapi_blob.c)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NES_OPENAPI_SRC})
file(READ ${NES_OPENAPI_SRC} NES_OPENAPI_HEX HEX)
string(LENGTH "${NES_OPENAPI_HEX}" NES_OPENAPI_HEXLEN)
math(EXPR NES_OPENAPI_LEN "${NES_OPENAPI_HEXLEN} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," NES_OPENAPI_BYTES "${NES_OPENAPI_HEX}")
file(CONFIGURE OUTPUT ${NES_OPENAPI_C} CONTENT
"/* generated from docs/openapi.yaml by cmake/server.cmake */
#include <stddef.h>
extern const char nes_openapi_yaml[];
extern const size_t nes_openapi_yaml_len;
const char nes_openapi_yaml[] = {${NES_OPENAPI_BYTES} 0};
const size_t nes_openapi_yaml_len = ${NES_OPENAPI_LEN};
" @ONLY)

# ---- libnessvc: the service minus main() ------------------------------------------------------
file(GLOB NES_SVC_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/enclave/*.c
     ${CMAKE_SOURCE_DIR}/src/enclave/providers/*.c)
list(REMOVE_ITEM NES_SVC_SRC ${CMAKE_SOURCE_DIR}/src/enclave/main.c)
add_library(nessvc STATIC ${NES_SVC_SRC} ${NES_OPENAPI_C})
target_include_directories(nessvc PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(nessvc PUBLIC nes nesnet neshttp nesobs PkgConfig::GNUTLS
                      PkgConfig::FYAML Threads::Threads)
if(TARGET nesaws)
  target_link_libraries(nessvc PUBLIC nesaws) # AWS providers (cmake/aws.cmake)
endif()
if(TARGET nesnsm)
  target_link_libraries(nessvc PUBLIC nesnsm) # cmake/nsm.cmake
endif()

if(NOT NES_FUZZ)
  add_executable(nitro-enc-svc ${CMAKE_SOURCE_DIR}/src/enclave/main.c)
  target_link_libraries(nitro-enc-svc PRIVATE nessvc)

  nes_unit_tests(tests/unit/server/test_*.c nessvc)
endif()

# The TLS load driver of the integration suite (tests/tools/http_load.c) needs GnuTLS.
if(TARGET http_load)
  target_link_libraries(http_load PRIVATE PkgConfig::GNUTLS)
endif()

# The PROXY_RETURN_ALLOW fuzzer (enclave/retallow.c) links the service library.
if(NES_FUZZ AND TARGET fuzz_retallow)
  target_link_libraries(fuzz_retallow PRIVATE nessvc)
endif()
