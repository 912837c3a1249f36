#include "llmbed.h"

unsigned llmbed_version_number(void) { return LLMBED_VERSION_NUMBER; }

const char *llmbed_status_str(llmbed_status status) {
    switch (status) {
#define LLMBED_STATUS_CASE(name, value, text) \
    case name:                                \
        return text;
        LLMBED_STATUS_LIST(LLMBED_STATUS_CASE)
#undef LLMBED_STATUS_CASE
    }
    return "unknown status";
}
