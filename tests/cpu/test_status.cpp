#include <catch2/catch.hpp>
#include <cstring>

#include "llmbed.h"

TEST_CASE("status strings are distinct and cover every code", "[status]") {
#define CHECK_STATUS_TEXT(name, value, text) CHECK(std::strcmp(llmbed_status_str(name), text) == 0);
    LLMBED_STATUS_LIST(CHECK_STATUS_TEXT)
#undef CHECK_STATUS_TEXT
    CHECK(std::strcmp(llmbed_status_str(static_cast<llmbed_status>(9999)), "unknown status") == 0);
    CHECK(llmbed_version_number() == LLMBED_VERSION_NUMBER);
}
