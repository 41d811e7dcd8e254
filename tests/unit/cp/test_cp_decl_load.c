/* tests/unit/cp/test_cp_decl_load.c: the load pipeline with the real entity model: a file gets
 * the Admin API's defaults, and schema errors land at their place in the file.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "declarative/cp_decl_errors.h"
#include "declarative/cp_decl_load.h"

static json_t *find(json_t *out, const char *table, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(out, table), i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

static void seed_gets_admin_api_defaults(void **state)
{
    (void)state;
    char path[1024];
    const char *dir = getenv("PORTICO_TEST_DATA");
    snprintf(path, sizeof(path), "%s/declarative/seed-kong.yaml", dir ? dir : "tests/data");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    json_t *doc = NULL, *out = NULL, *errs = NULL;
    enum gw_err rc = cp_decl_load_text(text, n, CP_DECL_FORMAT_YAML, NULL, &doc, &out, &errs);
    if (rc != GW_OK) {
        char *t = cp_decl_error_text(errs, doc);
        fprintf(stderr, "%s", t ? t : "?");
        free(t);
    }
    assert_int_equal(rc, GW_OK);
    json_t *svc = find(out, "services", "name", "example_service");
    assert_int_equal(json_integer_value(json_object_get(svc, "retries")), 5);
    assert_int_equal(json_integer_value(json_object_get(svc, "connect_timeout")), 60000);
    assert_true(json_is_null(json_object_get(svc, "path")));
    assert_string_equal(json_string_value(json_object_get(svc, "id")),
                        "5f2be09e-de92-5059-859b-a01b35cf0d4a");
    assert_non_null(json_object_get(svc, "created_at"));
    json_t *route = find(out, "routes", "name", "mocking");
    assert_int_equal(json_array_size(json_object_get(route, "protocols")), 2);
    json_t *ka = find(out, "plugins", "name", "key-auth");
    assert_true(json_is_false(json_object_get(ka, "enabled")));
    json_t *names = json_object_get(json_object_get(ka, "config"), "key_names");
    assert_string_equal(json_string_value(json_array_get(names, 0)), "apikey");
    json_t *rl = find(out, "plugins", "name", "rate-limiting");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rl, "config"), "minute")),
                     5);
    json_t *t = find(out, "targets", "target", "httpbin.org:80");
    assert_int_equal(json_integer_value(json_object_get(t, "weight")), 100);
    json_decref(out);
    json_decref(doc);
}

static void schema_errors_land_in_the_file_tree(void **state)
{
    (void)state;
    const char *text = "_format_version: '3.0'\n"
                       "services:\n- name: s\n  host: h\n  port: many\n"
                       "  routes:\n  - name: r\n    paths: [/r]\n    strip_path: maybe\n"
                       "plugins:\n- name: no-such-plugin\n";
    json_t *doc = NULL, *out = NULL, *errs = NULL;
    assert_int_equal(
        cp_decl_load_text(text, strlen(text), CP_DECL_FORMAT_YAML, NULL, &doc, &out, &errs),
        GW_ERR_INVALID);
    assert_null(out);
    json_t *svc = json_array_get(json_object_get(errs, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "port")), "expected an integer");
    json_t *route = json_array_get(json_object_get(svc, "routes"), 0);
    assert_string_equal(json_string_value(json_object_get(route, "strip_path")),
                        "expected a boolean");
    json_t *plugin = json_array_get(json_object_get(errs, "plugins"), 0);
    assert_non_null(plugin);
    char *t = cp_decl_error_text(errs, doc);
    assert_non_null(strstr(t, "services[1] (s) > port: expected an integer\n"));
    assert_non_null(strstr(t, "plugins[1]"));
    free(t);
    json_decref(errs);
    json_decref(doc);

    /* Text that does not parse. */
    assert_int_equal(cp_decl_load_text("a: [", 4, CP_DECL_FORMAT_YAML, NULL, &doc, &out, &errs),
                     GW_ERR_INVALID);
    assert_null(doc);
    assert_non_null(strstr(json_string_value(json_object_get(errs, "error")),
                           "failed parsing declarative configuration: line"));
    json_decref(errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_gets_admin_api_defaults),
        cmocka_unit_test(schema_errors_land_in_the_file_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
