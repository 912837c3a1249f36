# The CUDA emulation library (SPEC §8), built with the host compiler only:
# every kernels/*.cu compiled against tests/emu/cuda_emu.h and run on CPU
# fibers, the emulated runtime and cuBLASLt of fake_cuda/, host/cuda compiled
# against them (emu_cuda_backend.cpp), and the launch log. The emu test suite
# runs kernels through it; the CLI links it for `llmbed bench --ledger`,
# whose dry run records one batch of the real CUDA host code (so the ledger
# works in every build, with or without nvcc).
file(GLOB LLMBED_EMU_KERNEL_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cu)
set(LLMBED_EMU_WRAPPERS)
foreach(kernel_source ${LLMBED_EMU_KERNEL_SOURCES})
  get_filename_component(kernel_name ${kernel_source} NAME_WE)
  # A .cpp that includes the .cu, so the host compiler builds it as C++.
  set(wrapper ${PROJECT_BINARY_DIR}/emu_kernels/emu_${kernel_name}.cpp)
  file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${kernel_source}\"\n")
  list(APPEND LLMBED_EMU_WRAPPERS ${wrapper})
endforeach()
# The emulator's own deliberately broken kernels (test_emu_checks.cpp).
list(APPEND LLMBED_EMU_WRAPPERS ${CMAKE_CURRENT_LIST_DIR}/emu_broken_kernels.cpp)

# Every memory access of kernel code calls the emulator's checks
# (cuda_emu_memory.cpp): the compiler's ThreadSanitizer instrumentation,
# with our own definitions of its entry points instead of its runtime. No
# optimisation may merge or split an access before it is instrumented (a
# 16-byte vector load must stay one 16-byte access to be checked for
# alignment). Line tables (-g1) let a report name the source line. ASan
# cannot be combined with it: the ASan build runs the kernels without these
# checks.
if(NOT LLMBED_SANITIZE)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(LLMBED_EMU_CHECK_FLAGS -g1 -fsanitize=thread --param=tsan-instrument-func-entry-exit=0 -fno-tree-sra
        -fno-ipa-sra -fno-tree-vectorize -fno-tree-slp-vectorize -fno-store-merging)
  else()
    set(LLMBED_EMU_CHECK_FLAGS -gline-tables-only -fsanitize=thread -mllvm -tsan-instrument-func-entry-exit=0 -fno-vectorize
        -fno-slp-vectorize)
  endif()
  set_source_files_properties(${LLMBED_EMU_WRAPPERS} PROPERTIES COMPILE_OPTIONS "${LLMBED_EMU_CHECK_FLAGS}")
endif()

add_library(llmbed_emu_kernels STATIC ${CMAKE_CURRENT_LIST_DIR}/cuda_emu.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/cuda_emu_memory.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/cuda_emu_report.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/cuda_emu_runtime.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/launch_log.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/emu_graph.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/emu_ledger.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/emu_cuda_backend.cpp ${LLMBED_EMU_WRAPPERS})
target_include_directories(llmbed_emu_kernels PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/host
                                                     ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(llmbed_emu_kernels PRIVATE LLMBED_CUDA_EMU=1)
if(NOT LLMBED_SANITIZE)
  target_compile_definitions(llmbed_emu_kernels PRIVATE LLMBED_EMU_CHECKS=1)
endif()
target_compile_options(llmbed_emu_kernels PRIVATE ${LLMBED_WARNINGS})
# fake_cuda/ stands in for the CUDA headers of the host/cuda sources
target_include_directories(llmbed_emu_kernels BEFORE PRIVATE ${CMAKE_CURRENT_LIST_DIR}/fake_cuda)
target_compile_definitions(llmbed_emu_kernels PRIVATE _GNU_SOURCE)
# llmbed_static after the emulated backend on the link line: it needs llmbed_fail, the
# CPU RoPE frequencies, the engine and the model structs from the library
target_link_libraries(llmbed_emu_kernels PUBLIC llmbed_static OpenMP::OpenMP_CXX PkgConfig::OPENBLAS ${CMAKE_DL_LIBS})
