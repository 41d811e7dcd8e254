/* tests/unit/cp/test_cp_decl_flatten.c: flattening Kong's declarative format (ids, nesting,
 * references, migration, errors).
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
#include "declarative/cp_decl_flatten.h"
#include "declarative/cp_decl_parse.h"

static json_t *yaml(const char *text)
{
    json_t *v = NULL;
    char err[256];
    assert_int_equal(cp_decl_parse(text, strlen(text), CP_DECL_FORMAT_YAML, &v, err, sizeof(err)),
                     GW_OK);
    return v;
}

static json_t *flatten_ok(const char *text)
{
    json_t *in = yaml(text);
    json_t *out = NULL, *errs = NULL;
    enum gw_err rc = cp_decl_flatten(in, NULL, &out, &errs);
    if (rc != GW_OK) {
        char *t = errs ? cp_decl_error_text(errs, in) : NULL;
        fprintf(stderr, "flatten failed: %s\n", t ? t : "?");
        free(t);
    }
    assert_int_equal(rc, GW_OK);
    json_decref(in);
    return out;
}

static json_t *flatten_err(const char *text)
{
    json_t *in = yaml(text);
    json_t *out = NULL, *errs = NULL;
    assert_int_equal(cp_decl_flatten(in, NULL, &out, &errs), GW_ERR_INVALID);
    assert_null(out);
    assert_non_null(errs);
    json_decref(in);
    return errs;
}

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

static const char *fk(json_t *e, const char *field)
{
    return json_string_value(json_object_get(json_object_get(e, field), "id"));
}

static void seed_file_flattens_with_kong_ids(void **state)
{
    (void)state;
    char path[1024];
    const char *dir = getenv("PORTICO_TEST_DATA");
    snprintf(path, sizeof(path), "%s/declarative/seed-kong.yaml", dir ? dir : "tests/data");
    json_t *in = NULL, *out = NULL, *errs = NULL;
    char err[256];
    assert_int_equal(cp_decl_parse_file(path, &in, err, sizeof(err)), GW_OK);
    assert_int_equal(cp_decl_flatten(in, NULL, &out, &errs), GW_OK);
    /* Expected ids computed independently (Python uuid.uuid5 with Kong's namespaces). */
    json_t *svc = find(out, "services", "name", "example_service");
    assert_non_null(svc);
    assert_string_equal(json_string_value(json_object_get(svc, "id")),
                        "5f2be09e-de92-5059-859b-a01b35cf0d4a");
    json_t *route = find(out, "routes", "name", "mocking");
    assert_string_equal(json_string_value(json_object_get(route, "id")),
                        "4ca50430-3aa8-568b-820d-8809dddc3574");
    assert_string_equal(fk(route, "service"), "5f2be09e-de92-5059-859b-a01b35cf0d4a");
    assert_null(json_object_get(svc, "routes"));
    json_t *ka = find(out, "plugins", "name", "key-auth");
    assert_string_equal(json_string_value(json_object_get(ka, "id")),
                        "72ed89f6-4400-5850-9b77-74ff52cdcb26");
    assert_string_equal(fk(ka, "route"), "4ca50430-3aa8-568b-820d-8809dddc3574");
    assert_true(json_is_false(json_object_get(ka, "enabled")));
    json_t *rl = find(out, "plugins", "name", "rate-limiting");
    assert_string_equal(json_string_value(json_object_get(rl, "id")),
                        "250fd348-4071-5a51-8efd-c65e826fdfa9");
    assert_null(json_object_get(rl, "route"));
    assert_string_equal(
        json_string_value(json_object_get(find(out, "plugins", "name", "proxy-cache"), "id")),
        "0e9475fe-adfa-57d0-b835-f7bdab1b6f38");
    json_t *consumer = find(out, "consumers", "username", "consumer");
    assert_string_equal(json_string_value(json_object_get(consumer, "id")),
                        "7deb6e70-60be-5dd2-b374-06551479ea5e");
    json_t *cred = find(out, "keyauth_credentials", "key", "apikey");
    assert_string_equal(json_string_value(json_object_get(cred, "id")),
                        "588f6880-d104-5a31-9e8c-3db3bfb534cd");
    assert_string_equal(fk(cred, "consumer"), "7deb6e70-60be-5dd2-b374-06551479ea5e");
    json_t *t1 = find(out, "targets", "target", "httpbin.org:80");
    assert_string_equal(json_string_value(json_object_get(t1, "id")),
                        "bf587c94-234d-52d9-9ea0-990394b0b793");
    assert_string_equal(fk(t1, "upstream"), "13607422-1064-5b00-a33f-ba1b507ab5de");
    assert_string_equal(
        json_string_value(json_object_get(find(out, "targets", "target", "mockbin.org:80"), "id")),
        "6639c136-e315-598b-aa0b-dbad6b1e2fa3");
    assert_int_equal(json_array_size(json_object_get(out, "plugins")), 3);
    assert_int_equal(json_array_size(json_object_get(out, "targets")), 2);
    assert_int_equal(json_array_size(json_object_get(out, "snis")), 0);
    assert_string_equal(json_string_value(json_object_get(out, "_format_version")), "1.1");
    /* Flattening the same input twice gives the same ids (deterministic). */
    json_t *again = NULL;
    assert_int_equal(cp_decl_flatten(in, NULL, &again, &errs), GW_OK);
    assert_true(json_equal(out, again));
    json_decref(again);
    json_decref(out);
    json_decref(in);
}

static void references_by_name_and_id(void **state)
{
    (void)state;
    json_t *out = flatten_ok("_format_version: '3.0'\n"
                             "services:\n- name: s1\n  host: a\n"
                             "- id: 0a6b8b4c-2b3e-4a5e-9d1f-7a3c9e2b1f00\n  host: b\n"
                             "routes:\n- name: r1\n  service: s1\n  paths: [/x]\n"
                             "- name: r2\n  service: 0A6B8B4C-2B3E-4A5E-9D1F-7A3C9E2B1F00\n"
                             "- name: r3\n  service: {id: 0a6b8b4c-2b3e-4a5e-9d1f-7a3c9e2b1f00}\n"
                             "upstreams:\n- name: u1\n"
                             "targets:\n- target: 10.0.0.1:80\n  upstream: u1\n"
                             "plugins:\n- name: key-auth\n  service: s1\n");
    json_t *s1 = find(out, "services", "name", "s1");
    const char *s1id = json_string_value(json_object_get(s1, "id"));
    assert_string_equal(fk(find(out, "routes", "name", "r1"), "service"), s1id);
    assert_string_equal(fk(find(out, "routes", "name", "r3"), "service"),
                        "0a6b8b4c-2b3e-4a5e-9d1f-7a3c9e2b1f00");
    /* A top-level target's id key uses the upstream as written (Kong: "<target>:<upstream>"). */
    char want[37];
    cp_decl_entity_uuid("targets", "10.0.0.1:80:u1", want);
    json_t *t = find(out, "targets", "target", "10.0.0.1:80");
    assert_string_equal(json_string_value(json_object_get(t, "id")), want);
    assert_string_equal(fk(t, "upstream"), json_string_value(json_object_get(
                                               find(out, "upstreams", "name", "u1"), "id")));
    /* A top-level plugin's cache key uses the reference as written. */
    cp_decl_entity_uuid("plugins", "plugins:key-auth::s1:", want);
    assert_string_equal(
        json_string_value(json_object_get(find(out, "plugins", "name", "key-auth"), "id")), want);
    json_decref(out);
}

static void deep_nesting_and_certificates(void **state)
{
    (void)state;
    json_t *out =
        flatten_ok("_format_version: '3.0'\n"
                   "certificates:\n- cert: C\n  key: K\n  snis:\n  - name: a.test\n"
                   "consumers:\n- username: u\n  plugins:\n  - name: rate-limiting\n"
                   "    config: {minute: 1}\n"
                   "services:\n- name: s\n  host: h\n  routes:\n  - name: r\n"
                   "    plugins:\n    - name: key-auth\n  plugins:\n  - name: key-auth\n");
    json_t *cert = json_array_get(json_object_get(out, "certificates"), 0);
    json_t *sni = find(out, "snis", "name", "a.test");
    assert_string_equal(fk(sni, "certificate"), json_string_value(json_object_get(cert, "id")));
    assert_null(json_object_get(cert, "snis"));
    assert_int_equal(json_array_size(json_object_get(out, "plugins")), 3);
    json_t *rl = find(out, "plugins", "name", "rate-limiting");
    assert_string_equal(fk(rl, "consumer"), json_string_value(json_object_get(
                                                find(out, "consumers", "username", "u"), "id")));
    json_decref(out);
}

static void entities_kong_gives_random_ids_get_content_ids(void **state)
{
    (void)state;
    const char *text = "_format_version: '3.0'\n"
                       "services:\n- host: anonymous.internal\n  routes:\n  - paths: [/a]\n"
                       "  - paths: [/b]\n"
                       "consumers:\n- custom_id: only-custom\n";
    json_t *a = flatten_ok(text);
    json_t *b = flatten_ok(text);
    assert_true(json_equal(a, b));
    json_t *routes = json_object_get(a, "routes");
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(routes, 0), "id")),
                            json_string_value(json_object_get(json_array_get(routes, 1), "id")));
    json_decref(b);
    /* A changed entity gets another id; the others keep theirs. */
    b = flatten_ok("_format_version: '3.0'\n"
                   "services:\n- host: anonymous.internal\n  routes:\n  - paths: [/a]\n"
                   "  - paths: [/c]\n"
                   "consumers:\n- custom_id: only-custom\n");
    json_t *rb = json_object_get(b, "routes");
    assert_string_equal(json_string_value(json_object_get(json_array_get(routes, 0), "id")),
                        json_string_value(json_object_get(json_array_get(rb, 0), "id")));
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(routes, 1), "id")),
                            json_string_value(json_object_get(json_array_get(rb, 1), "id")));
    json_decref(a);
    json_decref(b);
}

static void format_1_1_migrates_regex_paths(void **state)
{
    (void)state;
    char *m = cp_decl_migrate_path("/users/\\d+");
    assert_string_equal(m, "~/users/\\d+");
    free(m);
    m = cp_decl_migrate_path("/a/./b/../c//d");
    assert_string_equal(m, "/a/c/d");
    free(m);
    m = cp_decl_migrate_path("/caf%C3%A9%2f");
    assert_string_equal(m, "/caf\xc3\xa9%2F");
    free(m);
    m = cp_decl_migrate_path("/v1/(?<x>%2e+)$");
    assert_string_equal(m, "~/v1/(?<x>\\.+)$");
    free(m);
    json_t *out = flatten_ok("_format_version: '1.1'\nservices:\n- name: s\n  host: h\n"
                             "  routes:\n  - name: r\n    paths: ['/x/\\d+', /plain]\n");
    json_t *paths = json_object_get(find(out, "routes", "name", "r"), "paths");
    assert_string_equal(json_string_value(json_array_get(paths, 0)), "~/x/\\d+");
    assert_string_equal(json_string_value(json_array_get(paths, 1)), "/plain");
    json_decref(out);
    out = flatten_ok("_format_version: '3.0'\nroutes:\n- name: r\n    \n  paths: ['/x/\\d+']\n");
    paths = json_object_get(find(out, "routes", "name", "r"), "paths");
    assert_string_equal(json_string_value(json_array_get(paths, 0)), "/x/\\d+");
    json_decref(out);
}

static const char *at(json_t *errs, const char *path)
{
    /* path like "services.0.routes.1.service" */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = errs;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(tok, NULL, 10));
        else
            cur = json_object_get(cur, tok);
    }
    if (json_is_array(cur))
        cur = json_array_get(cur, 0);
    return json_string_value(cur);
}

static void errors_name_the_place_in_the_file(void **state)
{
    (void)state;
    json_t *errs = flatten_err("services:\n- name: s\n  host: h\n  routes:\n"
                               "  - name: r\n    service: other\n"
                               "  - name: r2\n"
                               "routes:\n- name: x\n  service: nope\n"
                               "bogus: 1\n_format_version: '9.9'\n");
    assert_string_equal(at(errs, "services.0.routes.0.service"), "value must be null");
    assert_string_equal(at(errs, "routes.0.service"),
                        "invalid reference 'service: nope' (no such entry in 'services')");
    assert_string_equal(at(errs, "bogus"), "unknown field");
    assert_string_equal(at(errs, "_format_version"), "expected one of: 1.1, 2.1, 3.0");
    assert_null(at(errs, "services.0.routes.1"));
    char *msg = cp_decl_error_message(errs);
    assert_non_null(strstr(msg, "declarative config is invalid: {_format_version=\"expected one "
                                "of: 1.1, 2.1, 3.0\",bogus=\"unknown field\","));
    free(msg);
    json_t *in = yaml("services:\n- name: s\n  host: h\n  routes:\n  - name: r\n"
                      "    service: other\n");
    char *text = cp_decl_error_text(errs, in);
    assert_non_null(
        strstr(text, "services[1] (s) > routes[1] (r) > service: value must be null\n"));
    free(text);
    json_t *body = cp_decl_error_body(errs, in, true);
    assert_int_equal(json_integer_value(json_object_get(body, "code")), 14);
    assert_string_equal(json_string_value(json_object_get(body, "name")),
                        "invalid declarative configuration");
    json_t *fe = json_object_get(body, "flattened_errors");
    assert_int_equal(json_array_size(fe), 1);
    json_t *e0 = json_array_get(fe, 0);
    assert_string_equal(json_string_value(json_object_get(e0, "entity_type")), "route");
    assert_string_equal(json_string_value(json_object_get(e0, "entity_name")), "r");
    json_t *er = json_array_get(json_object_get(e0, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(er, "field")), "service");
    assert_string_equal(json_string_value(json_object_get(er, "type")), "field");
    json_decref(body);
    json_decref(in);
    json_decref(errs);

    errs = flatten_err("services: 3\n");
    assert_string_equal(at(errs, "services"), "expected an array");
    assert_string_equal(at(errs, "_format_version"), "required field missing");
    json_decref(errs);
    errs = flatten_err("_format_version: '3.0'\nservices: [1]\n");
    assert_string_equal(at(errs, "services.0"), "expected a record");
    json_decref(errs);
    errs = flatten_err("_format_version: '3.0'\nservices:\n- name: a\n- name: a\n"
                       "- id: nope\n");
    assert_string_equal(at(errs, "services.1.@entity"),
                        "uniqueness violation: 'services' entity with primary key set to "
                        "'72734e2a-702d-5711-b9ef-697178108ad8' already declared");
    assert_string_equal(at(errs, "services.2.id"), "expected a valid UUID");
    json_decref(errs);
}

static enum gw_err reject_hosts(void *ud, const char *table, json_t **entity, json_t **fields)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(table, "services") == 0 && !json_object_get(*entity, "host")) {
        *fields = json_pack("{s:s}", "host", "required field missing");
        return GW_ERR_INVALID;
    }
    json_t *copy = json_deep_copy(*entity);
    json_object_set_new(copy, "processed", json_true());
    json_decref(*entity);
    *entity = copy;
    return GW_OK;
}

static void process_callback_and_select_tags(void **state)
{
    (void)state;
    int calls = 0;
    const char *tags[] = {"team-a", NULL};
    struct cp_decl_flatten_opts opts = {reject_hosts, &calls, tags};
    json_t *in = yaml("_format_version: '3.0'\nservices:\n- name: s\n  host: h\n  tags: [x]\n"
                      "  routes:\n  - name: r\n");
    json_t *out = NULL, *errs = NULL;
    assert_int_equal(cp_decl_flatten(in, &opts, &out, &errs), GW_OK);
    assert_int_equal(calls, 2);
    json_t *s = find(out, "services", "name", "s");
    assert_true(json_is_true(json_object_get(s, "processed")));
    assert_int_equal(json_array_size(json_object_get(s, "tags")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "tags"), 1)), "team-a");
    json_decref(out);
    json_decref(in);
    in = yaml("_format_version: '3.0'\nservices:\n- name: s\n  routes:\n  - name: r\n");
    assert_int_equal(cp_decl_flatten(in, &opts, &out, &errs), GW_ERR_INVALID);
    assert_string_equal(at(errs, "services.0.host"), "required field missing");
    json_decref(errs);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_file_flattens_with_kong_ids),
        cmocka_unit_test(references_by_name_and_id),
        cmocka_unit_test(deep_nesting_and_certificates),
        cmocka_unit_test(entities_kong_gives_random_ids_get_content_ids),
        cmocka_unit_test(format_1_1_migrates_regex_paths),
        cmocka_unit_test(errors_name_the_place_in_the_file),
        cmocka_unit_test(process_callback_and_select_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
