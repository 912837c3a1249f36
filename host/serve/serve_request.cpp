// simdjson DOM behind serve/serve_request.h. Error codes only: no exception
// leaves this file (the C callers could not catch one).
#include "serve/serve_request.h"

#include <simdjson.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// One parser per thread: its buffers grow to the largest body seen and are
// reused, so a worker does not allocate per request.
thread_local simdjson::dom::parser json_parser;

serve_parse_result invalid(serve_request_error *error, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

serve_parse_result invalid(serve_request_error *error, const char *param, const char *fmt, ...) {
    error->param = param;
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(error->message, sizeof error->message, fmt, args);
    va_end(args);
    return SERVE_PARSE_INVALID;
}

// A token id: an integer in the int32 range, written as 5 or 5.0 (as the JSONL reader).
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
        return false;
    }
}

// The shape of "input", decided by the first element of an array.
enum class input_shape { text, texts, ids, id_arrays };

// Sizes of everything the request will own, from a first pass that also
// checks every element, so the second pass only copies.
struct input_plan {
    input_shape shape;
    size_t n_inputs = 0;
    size_t n_ids = 0;
    size_t text_bytes = 0;
};

serve_parse_result check_ids(simdjson::dom::array ids, const char *where, size_t index, serve_request_error *error,
                             size_t *count) {
    size_t j = 0;
    for (simdjson::dom::element item : ids) {
        int32_t id;
        if (!as_token_id(item, &id)) {
            if (std::strcmp(where, "input") == 0)
                return invalid(error, "input", "input[%zu] is not a token id (an integer in the int32 range)", j);
            return invalid(error, "input", "input[%zu][%zu] is not a token id (an integer in the int32 range)", index, j);
        }
        j++;
    }
    *count = j;
    return SERVE_PARSE_OK;
}

serve_parse_result plan_input(simdjson::dom::element input, int max_inputs, input_plan *plan,
                              serve_request_error *error) {
    std::string_view text;
    if (!input.get_string().get(text)) {
        plan->shape = input_shape::text;
        plan->n_inputs = 1;
        plan->text_bytes = text.size() + 1;
        return SERVE_PARSE_OK;
    }
    simdjson::dom::array array;
    if (input.get_array().get(array))
        return invalid(error, "input", "input must be a string, an array of strings, an array of token ids or an "
                                       "array of token-id arrays");
    if (array.size() == 0) return invalid(error, "input", "input is an empty array (give at least one input)");
    simdjson::dom::element first = array.at(0).value_unsafe();
    if (first.is_number()) {
        plan->shape = input_shape::ids;
        plan->n_inputs = 1;
        return check_ids(array, "input", 0, error, &plan->n_ids);
    }
    const size_t n = array.size();
    if (max_inputs > 0 && n > static_cast<size_t>(max_inputs))
        return invalid(error, "input", "input holds %zu inputs, more than this server's limit of %d (--max-inputs)",
                       n, max_inputs);
    plan->n_inputs = n;
    if (first.is_string()) {
        plan->shape = input_shape::texts;
        size_t i = 0;
        for (simdjson::dom::element item : array) {
            if (item.get_string().get(text))
                return invalid(error, "input", "input[%zu] is not a string (input is an array of strings)", i);
            plan->text_bytes += text.size() + 1;
            i++;
        }
        return SERVE_PARSE_OK;
    }
    if (first.is_array()) {
        plan->shape = input_shape::id_arrays;
        size_t i = 0;
        for (simdjson::dom::element item : array) {
            simdjson::dom::array ids;
            if (item.get_array().get(ids))
                return invalid(error, "input", "input[%zu] is not an array of token ids (input is an array of "
                                               "token-id arrays)", i);
            size_t count = 0;
            serve_parse_result r = check_ids(ids, "input[]", i, error, &count);
            if (r != SERVE_PARSE_OK) return r;
            plan->n_ids += count;
            i++;
        }
        return SERVE_PARSE_OK;
    }
    return invalid(error, "input", "input[0] is neither a string, a token id nor an array of token ids");
}

// The request's one allocation: inputs, then ids, then text bytes.
struct storage_cursor {
    serve_input *inputs;
    int32_t *ids;
    char *text;
};

void copy_text(std::string_view text, serve_input *input, storage_cursor *cur) {
    if (!text.empty()) std::memcpy(cur->text, text.data(), text.size());
    cur->text[text.size()] = '\0';
    *input = serve_input{SERVE_INPUT_TEXT, cur->text, text.size(), nullptr, 0};
    cur->text += text.size() + 1;
}

void copy_ids(simdjson::dom::array ids, serve_input *input, storage_cursor *cur) {
    size_t j = 0;
    for (simdjson::dom::element item : ids) as_token_id(item, &cur->ids[j++]);
    *input = serve_input{SERVE_INPUT_IDS, nullptr, 0, cur->ids, j};
    cur->ids += j;
}

serve_parse_result copy_input(simdjson::dom::element input, const input_plan &plan, serve_request *request) {
    const size_t bytes = plan.n_inputs * sizeof(serve_input) + plan.n_ids * sizeof(int32_t) + plan.text_bytes;
    char *block = static_cast<char *>(std::malloc(bytes > 0 ? bytes : 1));
    if (block == nullptr) return SERVE_PARSE_NO_MEMORY;
    request->storage = block;
    storage_cursor cur{reinterpret_cast<serve_input *>(block),
                       reinterpret_cast<int32_t *>(block + plan.n_inputs * sizeof(serve_input)),
                       block + plan.n_inputs * sizeof(serve_input) + plan.n_ids * sizeof(int32_t)};
    request->inputs = cur.inputs;
    request->n_inputs = static_cast<int>(plan.n_inputs);
    std::string_view text;
    simdjson::dom::array array, ids;
    size_t i = 0;
    switch (plan.shape) {
    case input_shape::text:
        if (!input.get_string().get(text)) copy_text(text, &cur.inputs[0], &cur);
        break;
    case input_shape::ids:
        if (!input.get_array().get(array)) copy_ids(array, &cur.inputs[0], &cur);
        break;
    case input_shape::texts:
        if (input.get_array().get(array)) break;
        for (simdjson::dom::element item : array) {
            if (!item.get_string().get(text)) copy_text(text, &request->inputs[i++], &cur);
        }
        break;
    case input_shape::id_arrays:
        if (input.get_array().get(array)) break;
        for (simdjson::dom::element item : array) {
            if (!item.get_array().get(ids)) copy_ids(ids, &request->inputs[i++], &cur);
        }
        break;
    }
    return SERVE_PARSE_OK;
}

serve_parse_result parse_options(simdjson::dom::object object, serve_request *request, serve_request_error *error) {
    simdjson::dom::element value;
    if (!object.at_key("encoding_format").get(value) && !value.is_null()) {
        std::string_view format;
        if (value.get_string().get(format) || (format != "float" && format != "base64"))
            return invalid(error, "encoding_format", "encoding_format must be \"float\" or \"base64\"");
        request->base64 = format == "base64";
    }
    if (!object.at_key("dimensions").get(value) && !value.is_null()) {
        int32_t dims = 0;
        if (!as_token_id(value, &dims) || dims < 1)
            return invalid(error, "dimensions", "dimensions must be a positive integer");
        request->dimensions = dims;
    }
    if (!object.at_key("user").get(value) && !value.is_null() && !value.is_string())
        return invalid(error, "user", "user must be a string");
    if (!object.at_key("model").get(value) && !value.is_null()) {
        std::string_view model;
        if (value.get_string().get(model)) return invalid(error, "model", "model must be a string");
        request->model = static_cast<char *>(std::malloc(model.size() + 1));
        if (request->model == nullptr) return SERVE_PARSE_NO_MEMORY;
        if (!model.empty()) std::memcpy(request->model, model.data(), model.size());
        request->model[model.size()] = '\0';
    }
    return SERVE_PARSE_OK;
}

}  // namespace

extern "C" void serve_request_clear(serve_request *request) {
    std::free(request->model);
    std::free(request->storage);
    std::memset(request, 0, sizeof *request);
}

extern "C" serve_parse_result serve_request_parse(const char *body, size_t len, int max_inputs,
                                                  serve_request *request, serve_request_error *error) {
    std::memset(request, 0, sizeof *request);
    error->param = nullptr;
    error->message[0] = '\0';
    simdjson::dom::element doc;
    // realloc_if_needed: the body is copied into simdjson's padded buffer.
    simdjson::error_code err = json_parser.parse(body, len, true).get(doc);
    if (err == simdjson::MEMALLOC) return SERVE_PARSE_NO_MEMORY;
    if (err) return invalid(error, nullptr, "the body is not valid JSON (%s)", simdjson::error_message(err));
    simdjson::dom::object object;
    if (doc.get_object().get(object)) return invalid(error, nullptr, "the body must be a JSON object");
    simdjson::dom::element input;
    if (object.at_key("input").get(input) || input.is_null())
        return invalid(error, "input", "input is required (a string or an array)");
    serve_parse_result r = parse_options(object, request, error);
    if (r != SERVE_PARSE_OK) return r;
    input_plan plan;
    r = plan_input(input, max_inputs, &plan, error);
    if (r != SERVE_PARSE_OK) return r;
    return copy_input(input, plan, request);
}
