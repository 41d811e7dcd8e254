/* tests/unit/cp/test_cp_decl_parse.c: the declarative YAML/JSON reader.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "declarative/cp_decl_parse.h"

static json_t *parse_ok(const char *text)
{
    json_t *v = NULL;
    char err[256] = "";
    enum gw_err rc = cp_decl_parse(text, strlen(text), CP_DECL_FORMAT_AUTO, &v, err, sizeof(err));
    if (rc != GW_OK)
        fprintf(stderr, "parse error: %s\n", err);
    assert_int_equal(rc, GW_OK);
    assert_non_null(v);
    return v;
}

static void scalars_are_typed_like_yaml_1_1(void **state)
{
    (void)state;
    json_t *v = parse_ok("a: true\nb: no\nc: ON\nd: ~\ne: null\nf: 80\ng: -0x1F\nh: 1.5\n"
                         "i: \"80\"\nj: 'true'\nk: /mock\nl: 1_000\nm: 0o17\nn: 1e3\no:\n"
                         "p: !!str 12\nq: 3.0.1\nr: 99999999999999999999\ns: .inf\nt: 010\n");
    assert_true(json_is_true(json_object_get(v, "a")));
    assert_true(json_is_false(json_object_get(v, "b")));
    assert_true(json_is_true(json_object_get(v, "c")));
    assert_true(json_is_null(json_object_get(v, "d")));
    assert_true(json_is_null(json_object_get(v, "e")));
    assert_int_equal(json_integer_value(json_object_get(v, "f")), 80);
    assert_int_equal(json_integer_value(json_object_get(v, "g")), -31);
    assert_true(json_is_real(json_object_get(v, "h")));
    assert_string_equal(json_string_value(json_object_get(v, "i")), "80");
    assert_string_equal(json_string_value(json_object_get(v, "j")), "true");
    assert_string_equal(json_string_value(json_object_get(v, "k")), "/mock");
    assert_int_equal(json_integer_value(json_object_get(v, "l")), 1000);
    assert_int_equal(json_integer_value(json_object_get(v, "m")), 15);
    assert_true(json_is_real(json_object_get(v, "n")));
    assert_true(json_is_null(json_object_get(v, "o")));
    assert_string_equal(json_string_value(json_object_get(v, "p")), "12");
    assert_string_equal(json_string_value(json_object_get(v, "q")), "3.0.1");
    assert_true(json_is_real(json_object_get(v, "r")));
    assert_string_equal(json_string_value(json_object_get(v, "s")), ".inf");
    assert_int_equal(json_integer_value(json_object_get(v, "t")), 8);
    json_decref(v);
}

static void anchors_aliases_and_merge_keys(void **state)
{
    (void)state;
    json_t *v = parse_ok("base: &b {port: 80, protocol: http}\n"
                         "svc:\n  <<: *b\n  port: 8080\n  host: x\n"
                         "list: &l [1, 2]\ncopy: *l\n");
    json_t *svc = json_object_get(v, "svc");
    assert_int_equal(json_integer_value(json_object_get(svc, "port")), 8080);
    assert_string_equal(json_string_value(json_object_get(svc, "protocol")), "http");
    assert_int_equal(json_array_size(json_object_get(v, "copy")), 2);
    /* Aliases are copies, not shared values. */
    assert_ptr_not_equal(json_object_get(v, "copy"), json_object_get(v, "list"));
    json_decref(v);
}

static void json_and_flow_yaml(void **state)
{
    (void)state;
    json_t *v = parse_ok("  {\"_format_version\": \"3.0\", \"services\": [{\"port\": 80}]}");
    assert_string_equal(json_string_value(json_object_get(v, "_format_version")), "3.0");
    json_decref(v);
    v = parse_ok("{a: yes, b: [x, 2]}");
    assert_true(json_is_true(json_object_get(v, "a")));
    json_decref(v);
    v = parse_ok("");
    assert_true(json_is_null(v));
    json_decref(v);
}

static void expect_error(const char *text, const char *needle)
{
    json_t *v = NULL;
    char err[256] = "";
    assert_int_equal(cp_decl_parse(text, strlen(text), CP_DECL_FORMAT_AUTO, &v, err, sizeof(err)),
                     GW_ERR_INVALID);
    assert_null(v);
    if (!strstr(err, needle))
        fprintf(stderr, "error '%s' lacks '%s'\n", err, needle);
    assert_non_null(strstr(err, needle));
}

static void errors_and_limits(void **state)
{
    (void)state;
    expect_error("a: [1, 2\nb: 3\n", "line");
    expect_error("a: *nope\n", "unknown alias 'nope'");
    expect_error("? [1]\n: 2\n", "mapping keys must be scalars");
    expect_error("a: 1\n---\nb: 2\n", "single YAML document");
    expect_error("a: &x [*x]\n", "recursive alias");
    expect_error("{\"a\": [}", "line 1");
    /* Nesting depth. */
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    json_t *v = NULL;
    char err[256];
    assert_int_equal(cp_decl_parse(deep, n, CP_DECL_FORMAT_YAML, &v, err, sizeof(err)),
                     GW_ERR_INVALID);
    assert_non_null(strstr(err, "nesting"));
    /* A billion-laughs alias bomb stops at the expansion bound. */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    expect_error(bomb, "alias expansion limit");
}

static void seed_file_parses(void **state)
{
    (void)state;
    char path[1024];
    const char *dir = getenv("PORTICO_TEST_DATA");
    snprintf(path, sizeof(path), "%s/declarative/seed-kong.yaml", dir ? dir : "tests/data");
    json_t *v = NULL;
    char err[256] = "";
    assert_int_equal(cp_decl_parse_file(path, &v, err, sizeof(err)), GW_OK);
    assert_string_equal(json_string_value(json_object_get(v, "_format_version")), "1.1");
    json_t *route = json_array_get(
        json_object_get(json_array_get(json_object_get(v, "services"), 0), "routes"), 0);
    assert_true(json_is_true(json_object_get(route, "strip_path")));
    json_decref(v);
    assert_int_equal(cp_decl_parse_file("/nonexistent/kong.yaml", &v, err, sizeof(err)), GW_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_are_typed_like_yaml_1_1),
        cmocka_unit_test(anchors_aliases_and_merge_keys),
        cmocka_unit_test(json_and_flow_yaml),
        cmocka_unit_test(errors_and_limits),
        cmocka_unit_test(seed_file_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
