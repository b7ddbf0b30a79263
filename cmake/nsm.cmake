# The Nitro Secure Module (issue 7): src/nsm -> libnesnsm (the real /dev/nsm and the test NSM
# behind one interface, their CBOR messages, COSE_Sign1). Linked into the service library by
# cmake/server.cmake; its fuzz target links it here.

pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)

file(GLOB NES_NSM_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/nsm/*.c)
add_library(nesnsm STATIC ${NES_NSM_SRC})
target_include_directories(nesnsm PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(nesnsm PUBLIC nes PkgConfig::CBOR OpenSSL::Crypto)

if(NES_FUZZ AND TARGET fuzz_nsm_cbor)
  target_link_libraries(fuzz_nsm_cbor PRIVATE nesnsm)
endif()
