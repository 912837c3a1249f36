// simdjson DOM behind io/json_line.h. Error codes only: no exception leaves
// this file (the C callers could not catch one).
#include "io/json_line.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

struct llmbed_json_line {
    simdjson::dom::parser parser;
};

extern "C" llmbed_json_line *llmbed_json_line_create(void) { return new (std::nothrow) llmbed_json_line(); }

extern "C" void llmbed_json_line_free(llmbed_json_line *parser) { delete parser; }

extern "C" void llmbed_json_fields_clear(llmbed_json_fields *fields) {
    std::free(fields->ids);
    std::free(fields->text);
    std::free(fields->id_json);
    std::free(fields->spans);
    std::memset(fields, 0, sizeof *fields);
}

namespace {

char *copy_bytes(const char *p, size_t n) {
    char *s = static_cast<char *>(std::malloc(n + 1));
    if (s == nullptr) return nullptr;
    if (n > 0) std::memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

// A token id: an integer in the int32 range, written as 5 or 5.0 (as before with cJSON).
bool as_token_id(simdjson::dom::element e, int32_t *out) {
    switch (e.type()) {
    case simdjson::dom::element_type::INT64: {
        int64_t v = e.get_int64().value_unsafe();
        if (v < INT32_MIN || v > INT32_MAX) return false;
        *out = static_cast<int32_t>(v);
        return true;
    }
    case simdjson::dom::element_type::DOUBLE: {
        double v = e.get_double().value_unsafe();
        if (!(v == std::floor(v) && v >= INT32_MIN && v <= INT32_MAX)) return false;
        *out = static_cast<int32_t>(v);
        return true;
    }
    default:
        return false;  // UINT64 (beyond int64) and every non-number
    }
}

llmbed_json_result extract_ids(simdjson::dom::element e, llmbed_json_fields *out) {
    simdjson::dom::array array;
    if (e.get_array().get(array)) {
        out->ids_state = LLMBED_FIELD_WRONG_TYPE;
        return LLMBED_JSON_OK;
    }
    size_t n = array.size();
    out->ids = static_cast<int32_t *>(std::malloc((n > 0 ? n : 1) * sizeof(int32_t)));
    if (out->ids == nullptr) return LLMBED_JSON_NO_MEMORY;
    size_t i = 0;
    for (simdjson::dom::element item : array) {
        if (!as_token_id(item, &out->ids[i])) {
            out->ids_state = LLMBED_FIELD_BAD_ELEMENT;
            out->bad_index = i;
            return LLMBED_JSON_OK;
        }
        i++;
    }
    out->n_ids = i;
    out->ids_state = LLMBED_FIELD_OK;
    return LLMBED_JSON_OK;
}

// "spans": an array of [begin, end] pairs of token positions (int32).
llmbed_json_result extract_spans(simdjson::dom::element e, llmbed_json_fields *out) {
    simdjson::dom::array array;
    if (e.get_array().get(array)) {
        out->spans_state = LLMBED_FIELD_WRONG_TYPE;
        return LLMBED_JSON_OK;
    }
    const size_t n = array.size();
    out->spans = static_cast<int32_t *>(std::malloc((n > 0 ? 2 * n : 1) * sizeof(int32_t)));
    if (out->spans == nullptr) return LLMBED_JSON_NO_MEMORY;
    size_t i = 0;
    for (simdjson::dom::element item : array) {
        simdjson::dom::array pair;
        if (item.get_array().get(pair) || pair.size() != 2 ||
            !as_token_id(pair.at(0).value_unsafe(), &out->spans[2 * i]) ||
            !as_token_id(pair.at(1).value_unsafe(), &out->spans[2 * i + 1])) {
            out->spans_state = LLMBED_FIELD_BAD_ELEMENT;
            out->spans_bad_index = i;
            return LLMBED_JSON_OK;
        }
        i++;
    }
    out->n_spans = i;
    out->spans_state = LLMBED_FIELD_OK;
    return LLMBED_JSON_OK;
}

// End (one past the closing brace) of the object opening at line[0], or 0
// when it never closes: braces and brackets counted outside strings.
size_t object_end(const char *line, size_t len) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

}  // namespace

extern "C" llmbed_json_result llmbed_json_line_parse(llmbed_json_line *p, const char *line, size_t len,
                                                     const char *text_field, const char *id_field,
                                                     llmbed_json_fields *out, const char **why) {
    std::memset(out, 0, sizeof *out);
    *why = "";
    simdjson::dom::element doc;
    // realloc_if_needed: the line is copied into simdjson's padded buffer, so
    // any caller buffer (no SIMDJSON_PADDING slack) is safe.
    simdjson::error_code err = p->parser.parse(line, len, true).get(doc);
    if (err == simdjson::MEMALLOC) return LLMBED_JSON_NO_MEMORY;
    if (err) {
        // simdjson calls trailing text a structure error: name it when the
        // line is a valid object followed by something else.
        size_t end = object_end(line, len);
        *why = simdjson::error_message(err);
        if (end > 0 && end < len && !p->parser.parse(line, end, true).get(doc)) *why = "text after the JSON object";
        return LLMBED_JSON_MALFORMED;
    }
    simdjson::dom::object object;
    if (doc.get_object().get(object)) return LLMBED_JSON_NOT_OBJECT;
    simdjson::dom::element value;
    if (!object.at_key("input_ids").get(value)) {
        llmbed_json_result r = extract_ids(value, out);
        if (r != LLMBED_JSON_OK) return r;
    } else if (!object.at_key(text_field).get(value)) {
        std::string_view text;
        if (value.get_string().get(text)) {
            out->text_state = LLMBED_FIELD_WRONG_TYPE;
        } else {
            out->text = copy_bytes(text.data(), text.size());
            if (out->text == nullptr) return LLMBED_JSON_NO_MEMORY;
            out->text_len = text.size();
            out->text_state = LLMBED_FIELD_OK;
        }
    }
    if (!object.at_key("spans").get(value)) {
        llmbed_json_result r = extract_spans(value, out);
        if (r != LLMBED_JSON_OK) return r;
    }
    if (id_field != nullptr && !object.at_key(id_field).get(value)) {
        if (!value.is_string() && !value.is_number()) {
            out->id_state = LLMBED_FIELD_WRONG_TYPE;
        } else {
            std::string json;
            try {
                json = simdjson::minify(value);
            } catch (...) {
                return LLMBED_JSON_NO_MEMORY;
            }
            out->id_json = copy_bytes(json.data(), json.size());
            if (out->id_json == nullptr) return LLMBED_JSON_NO_MEMORY;
            out->id_state = LLMBED_FIELD_OK;
        }
    }
    return LLMBED_JSON_OK;
}
