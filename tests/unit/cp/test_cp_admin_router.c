/* tests/unit/cp/test_cp_admin_router.c: Admin API path matching: entity, nested and foreign
 * endpoints, literal segments before placeholders, percent-decoding, 404 vs 405.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/cp_admin_router.h"

static void expect(enum cp_admin_method m, const char *path, enum cp_admin_kind kind,
                   const char *entity, const char *p0, const char *p1)
{
    struct cp_admin_match mt;
    assert_int_equal(cp_admin_route_match(m, path, &mt), GW_OK);
    assert_int_equal(mt.route->kind, kind);
    if (entity)
        assert_string_equal(mt.route->entity, entity);
    if (p0)
        assert_string_equal(mt.params[0], p0);
    if (p1)
        assert_string_equal(mt.params[1], p1);
    cp_admin_match_cleanup(&mt);
}

static void test_entities(void **state)
{
    (void)state;
    expect(CP_ADMIN_GET, "/", CP_ADMIN_ROOT, NULL, NULL, NULL);
    expect(CP_ADMIN_GET, "/services", CP_ADMIN_COLLECTION, "services", NULL, NULL);
    expect(CP_ADMIN_POST, "/services/", CP_ADMIN_COLLECTION, "services", NULL, NULL);
    expect(CP_ADMIN_PATCH, "/services/example_service", CP_ADMIN_ENTITY, "services",
           "example_service", NULL);
    expect(CP_ADMIN_POST, "/services/s1/routes", CP_ADMIN_NESTED_COLLECTION, "routes", "s1", NULL);
    expect(CP_ADMIN_DELETE, "/services/s1/routes/r1", CP_ADMIN_NESTED_ENTITY, "routes", "s1", "r1");
    expect(CP_ADMIN_GET, "/routes/r1/service", CP_ADMIN_FOREIGN_ENTITY, "routes", "r1", NULL);
    expect(CP_ADMIN_POST, "/upstreams/u/targets", CP_ADMIN_NESTED_COLLECTION, "targets", "u", NULL);
    expect(CP_ADMIN_GET, "/upstreams/u/targets/all", CP_ADMIN_TARGETS_ALL, "targets", "u", NULL);
    expect(CP_ADMIN_PUT, "/upstreams/u/targets/a.test:80", CP_ADMIN_NESTED_ENTITY, "targets", "u",
           "a.test:80");
    expect(CP_ADMIN_POST, "/consumers/bob/key-auth", CP_ADMIN_NESTED_COLLECTION,
           "keyauth_credentials", "bob", NULL);
    expect(CP_ADMIN_GET, "/key-auths/k1", CP_ADMIN_ENTITY, "keyauth_credentials", "k1", NULL);
    expect(CP_ADMIN_GET, "/certificates/c/snis", CP_ADMIN_NESTED_COLLECTION, "snis", "c", NULL);
    expect(CP_ADMIN_GET, "/plugins/enabled", CP_ADMIN_PLUGINS_ENABLED, NULL, NULL, NULL);
    expect(CP_ADMIN_GET, "/plugins/p1", CP_ADMIN_ENTITY, "plugins", "p1", NULL);
    expect(CP_ADMIN_GET, "/schemas/plugins/key-auth", CP_ADMIN_SCHEMA_PLUGIN, NULL, "key-auth",
           NULL);
    expect(CP_ADMIN_GET, "/schemas/services", CP_ADMIN_SCHEMA, NULL, "services", NULL);
    expect(CP_ADMIN_POST, "/schemas/services/validate", CP_ADMIN_SCHEMA_VALIDATE, NULL, "services",
           NULL);
    expect(CP_ADMIN_GET, "/clustering/data-planes", CP_ADMIN_DATA_PLANES, NULL, NULL, NULL);
    expect(CP_ADMIN_GET, "/tags/a%2Fb", CP_ADMIN_TAG, NULL, "a/b", NULL);
    /* percent-encoded UTF-8 names are decoded */
    expect(CP_ADMIN_GET, "/services/caf%C3%A9", CP_ADMIN_ENTITY, "services", "caf\xc3\xa9", NULL);
}

static void test_errors(void **state)
{
    (void)state;
    struct cp_admin_match mt;
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/nope", &mt), GW_ERR_NOTFOUND);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/targets", &mt), GW_ERR_NOTFOUND);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/targets/x", &mt), GW_ERR_NOTFOUND);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/services//routes", &mt), GW_ERR_NOTFOUND);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/a/b/c/d/e/f/g/h/i/j", &mt),
                     GW_ERR_NOTFOUND);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_DELETE, "/services", &mt), GW_ERR_DECLINED);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_PUT, "/upstreams/u/targets", &mt),
                     GW_ERR_DECLINED);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_DELETE, "/routes/r/service", &mt),
                     GW_ERR_DECLINED);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_POST, "/status", &mt), GW_ERR_DECLINED);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/services/%zz", &mt), GW_ERR_INVALID);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/services/a%00b", &mt), GW_ERR_INVALID);
    assert_int_equal(cp_admin_route_match(CP_ADMIN_GET, "/services/a%4", &mt), GW_ERR_INVALID);
}

static void test_methods_and_unescape(void **state)
{
    (void)state;
    enum cp_admin_method m;
    assert_int_equal(cp_admin_method_parse("PATCH", &m), GW_OK);
    assert_int_equal(m, CP_ADMIN_PATCH);
    assert_int_equal(cp_admin_method_parse("HEAD", &m), GW_OK);
    assert_int_equal(m, CP_ADMIN_GET);
    assert_int_equal(cp_admin_method_parse("TRACE", &m), GW_ERR_INVALID);
    char *s = cp_admin_unescape("a+b%20c", 7, true);
    assert_string_equal(s, "a b c");
    free(s);
    s = cp_admin_unescape("a+b", 3, false);
    assert_string_equal(s, "a+b");
    free(s);
    size_t n = 0;
    const struct cp_admin_route *r = cp_admin_routes(&n);
    assert_true(n > 40);
    assert_string_equal(r[0].pattern, "/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_methods_and_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
