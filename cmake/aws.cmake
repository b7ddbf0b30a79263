# The AWS client layer (issue 7): src/aws (SigV4, libcurl transport, KMS, Secrets Manager, S3,
# IMDS), its unit tests under tests/unit/aws/ and its fuzz target (fuzz/fuzz_s3list.c).
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(XML2 REQUIRED IMPORTED_TARGET libxml-2.0)
find_package(Threads REQUIRED)

file(GLOB NES_AWS_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/aws/*.c)
if(NES_AWS_SRC)
  add_library(nesaws STATIC ${NES_AWS_SRC})
  target_include_directories(nesaws PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(nesaws PUBLIC nes nesnet PkgConfig::CURL PkgConfig::XML2 Threads::Threads)

  if(NOT NES_FUZZ)
    nes_unit_tests(tests/unit/aws/test_*.c nesaws)
    # Test drivers under tests/tools/ that need the AWS layer (aws_*.c) link it too.
    file(GLOB NES_AWS_TOOLS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/tools/aws_*.c)
    foreach(src ${NES_AWS_TOOLS})
      get_filename_component(name ${src} NAME_WE)
      target_link_libraries(${name} PRIVATE nesaws nessvc) # nessvc: the spec provider
    endforeach()
    if(TARGET nitro-enc)
      target_link_libraries(nitro-enc PRIVATE nesaws)
    endif()
  endif()
  if(NES_FUZZ AND TARGET fuzz_s3list)
    target_link_libraries(fuzz_s3list PRIVATE nesaws)
  endif()
endif()
