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
    file(GLOB NES_AWS_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/aws/test_*.c)
    foreach(src ${NES_AWS_TESTS})
      get_filename_component(name ${src} NAME_WE)
      add_executable(${name} ${src})
      set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
      target_link_libraries(${name} PRIVATE nesaws PkgConfig::CMOCKA)
      add_test(NAME ${name} COMMAND ${name})
      set_tests_properties(${name} PROPERTIES ENVIRONMENT
        "NES_TESTDATA=${NES_TESTDATA_DIR};NES_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    endforeach()
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
