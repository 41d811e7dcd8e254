/* tests/unit/common/schema_test_util.h: helpers shared by the gw_schema unit tests (run a write
 * through gw_schema_process and compare JSON).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef SCHEMA_TEST_UTIL_H
#define SCHEMA_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_schema.h"

static inline json_t *tj(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (j == NULL)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    return j;
}

static inline void print_json(const char *what, const json_t *j)
{
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    print_message("%s: %s\n", what, s != NULL ? s : "(null)");
    free(s);
}

/* Runs op on entity with input (and existing); asserts success; returns the owned entity. */
static inline json_t *sch_ok(const char *entity, enum gw_schema_op op, const char *input,
                             const json_t *existing)
{
    const struct gw_schema *s = gw_schema_get(entity);
    assert_non_null(s);
    json_t *in = tj(input), *out = NULL, *err = NULL;
    enum gw_err r = gw_schema_process(s, op, in, existing, &out, &err);
    if (r != GW_OK)
        print_json("unexpected errors", err);
    assert_int_equal(r, GW_OK);
    assert_null(err);
    assert_non_null(out);
    json_decref(in);
    return out;
}

/* Runs op and asserts a validation failure; returns the owned `fields` object. */
static inline json_t *sch_err(const char *entity, enum gw_schema_op op, const char *input,
                              const json_t *existing)
{
    const struct gw_schema *s = gw_schema_get(entity);
    assert_non_null(s);
    json_t *in = tj(input), *out = NULL, *err = NULL;
    enum gw_err r = gw_schema_process(s, op, in, existing, &out, &err);
    if (r != GW_ERR_INVALID)
        print_json("unexpected success", out);
    assert_int_equal(r, GW_ERR_INVALID);
    assert_null(out);
    assert_non_null(err);
    json_decref(in);
    return err;
}

/* Asserts that actual equals the JSON text expected (key order ignored). */
static inline void assert_json(const json_t *actual, const char *expected)
{
    json_t *e = tj(expected);
    if (!json_equal(actual, e)) {
        print_json("expected", e);
        print_json("actual  ", actual);
        fail_msg("JSON differs");
    }
    json_decref(e);
}

/* Asserts that the Kong error body built from fields has the given message. */
static inline void assert_message(const json_t *fields, const char *message)
{
    json_t *body = gw_schema_error_body(fields);
    assert_int_equal(json_integer_value(json_object_get(body, "code")), 2);
    assert_string_equal(json_string_value(json_object_get(body, "name")), "schema violation");
    assert_string_equal(json_string_value(json_object_get(body, "message")), message);
    assert_true(json_equal(json_object_get(body, "fields"), fields));
    json_decref(body);
}

/* Runs op expecting failure and checks both the fields object and the message. */
static inline void expect_error(const char *entity, const char *input, const char *fields,
                                const char *message)
{
    json_t *err = sch_err(entity, GW_SCHEMA_INSERT, input, NULL);
    assert_json(err, fields);
    if (message != NULL)
        assert_message(err, message);
    json_decref(err);
}

/* Removes the fields that change on every run (id, timestamps) for whole-object comparison. */
static inline void strip_auto(json_t *e)
{
    json_object_del(e, "id");
    json_object_del(e, "created_at");
    json_object_del(e, "updated_at");
}

#endif
