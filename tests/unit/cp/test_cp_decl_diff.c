/* tests/unit/cp/test_cp_decl_diff.c: the configuration diff (create, update, delete, select
 * tags, text).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "declarative/cp_decl_diff.h"

static json_t *j(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fprintf(stderr, "bad test JSON: %s\n", e.text);
    assert_non_null(v);
    return v;
}

static void no_changes_when_equal_but_timestamps(void **state)
{
    (void)state;
    json_t *cur = j("{\"services\":[{\"id\":\"a\",\"name\":\"s\",\"port\":80,\"path\":null,"
                    "\"created_at\":1,\"updated_at\":2}]}");
    json_t *want = j("{\"services\":[{\"id\":\"a\",\"name\":\"s\",\"port\":80.0,"
                     "\"created_at\":9,\"updated_at\":9}]}");
    json_t *diff = NULL;
    assert_int_equal(cp_decl_diff(want, cur, NULL, &diff), GW_OK);
    assert_int_equal(cp_decl_diff_count(diff), 0);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    cp_decl_diff_text(diff, &b);
    assert_string_equal(b.data, "no changes\n");
    gw_buf_cleanup(&b);
    json_decref(diff);
    json_decref(cur);
    json_decref(want);
}

static void create_update_delete_in_dependency_order(void **state)
{
    (void)state;
    json_t *cur = j("{\"services\":[{\"id\":\"s1\",\"name\":\"one\",\"port\":80,\"created_at\":5},"
                    "{\"id\":\"s2\",\"name\":\"two\",\"tags\":[\"x\"]}],"
                    "\"routes\":[{\"id\":\"r2\",\"name\":\"rt\",\"service\":{\"id\":\"s2\"},"
                    "\"tags\":[\"x\",\"y\"]}],"
                    "\"keyauth_credentials\":[{\"id\":\"k1\",\"key\":\"old-secret\"}]}");
    json_t *want = j("{\"services\":[{\"id\":\"s1\",\"name\":\"one\",\"port\":81,\"created_at\":9},"
                     "{\"id\":\"s3\",\"name\":\"three\"}],"
                     "\"routes\":[{\"id\":\"r3\",\"name\":\"new\",\"service\":{\"id\":\"s3\"}}],"
                     "\"keyauth_credentials\":[{\"id\":\"k1\",\"key\":\"new-secret\"}]}");
    json_t *diff = NULL;
    assert_int_equal(cp_decl_diff(want, cur, NULL, &diff), GW_OK);
    json_t *creates = json_object_get(diff, "create");
    assert_int_equal(json_array_size(creates), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(creates, 0), "table")),
                        "services");
    assert_string_equal(json_string_value(json_object_get(json_array_get(creates, 1), "table")),
                        "routes");
    json_t *updates = json_object_get(diff, "update");
    assert_int_equal(json_array_size(updates), 2);
    json_t *u0 = json_object_get(json_array_get(updates, 0), "new");
    assert_int_equal(json_integer_value(json_object_get(u0, "created_at")), 5);
    json_t *deletes = json_object_get(diff, "delete");
    assert_int_equal(json_array_size(deletes), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(deletes, 0), "table")),
                        "routes");
    assert_string_equal(json_string_value(json_object_get(json_array_get(deletes, 1), "table")),
                        "services");
    struct gw_buf b;
    gw_buf_init(&b, 0);
    cp_decl_diff_text(diff, &b);
    assert_non_null(strstr(b.data, "creating service three (s3)\n"));
    assert_non_null(strstr(b.data, "updating service one (s1)\n  port: 80 -> 81\n"));
    assert_non_null(strstr(b.data, "deleting route rt (r2)\n"));
    assert_non_null(strstr(b.data, "Created: 2\n  Updated: 2\n  Deleted: 2\n"));
    assert_null(strstr(b.data, "secret"));
    gw_buf_cleanup(&b);
    json_decref(diff);

    /* With select tags only tagged entities are deleted. */
    const char *tags[] = {"x", "y", NULL};
    assert_int_equal(cp_decl_diff(want, cur, tags, &diff), GW_OK);
    deletes = json_object_get(diff, "delete");
    assert_int_equal(json_array_size(deletes), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(deletes, 0), "entity"), "id")),
                        "r2");
    json_decref(diff);
    json_decref(cur);
    json_decref(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_changes_when_equal_but_timestamps),
        cmocka_unit_test(create_update_delete_in_dependency_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
