# Common settings for every project target: warnings (as errors) for our own code only,
# sanitizers when asked. Third-party headers come in as SYSTEM includes so their
# warnings (g++ 12 false positives in libstdc++/Boost) never fail the build.
function(fedscope_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(FEDSCOPE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
    # g++ 12 at -O3 (Release only) reports -Wrestrict and -Warray-bounds inside libstdc++'s
    # `const char* + std::string&&` and vector::insert after inlining: false positives (GCC
    # bugs 105329 and 105651, fixed in GCC 13). There, and only for those two, they stay
    # warnings instead of errors; every other build type still fails on them. The same
    # vector::insert of a span after push_back (test_tls.cpp's handshake(), test_dns.cpp's
    # framed()) also gets -Wstringop-overflow/-overread there (GCC bug 106199): likewise,
    # in the optimised builds only.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
       AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE
                             $<$<CONFIG:Release>:-Wno-error=restrict -Wno-error=array-bounds>
                             $<$<CONFIG:Release,MinSizeRel>:-Wno-error=stringop-overflow>
                             $<$<CONFIG:Release,MinSizeRel>:-Wno-error=stringop-overread>)
    endif()
  endif()
endfunction()

if(FEDSCOPE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(FEDSCOPE_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# fedscope_library(NAME SOURCES... [DEPS ...] [PRIVATE_DEPS ...])
function(fedscope_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  fedscope_target_options(${name})
endfunction()
