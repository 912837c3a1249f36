/* Stream capture on the emulated device (emu_graph.cpp): while the calling
 * thread captures, llmbed_emu_capture stores the work (a closure owning
 * copies of its arguments) and returns true; the caller then does not run
 * it. Returns false (run it now) otherwise. */
#ifndef LLMBED_TESTS_EMU_EMU_GRAPH_H
#define LLMBED_TESTS_EMU_EMU_GRAPH_H

#include <functional>

#include "fake_cuda/cuda_runtime_api.h"

bool llmbed_emu_capture(const std::function<void()> &work);

#endif
