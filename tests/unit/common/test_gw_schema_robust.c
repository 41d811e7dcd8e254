/* tests/unit/common/test_gw_schema_robust.c: gw_schema never crashes and always answers
 * consistently (GW_OK with an entity, or GW_ERR_INVALID with an error object whose body builds),
 * whatever the input: random values in every known field of every entity, for every operation.
 * Runs under ASan/UBSan, which turn any memory error into a failure.
 * SPDX-License-Identifier: Apache-2.0 */
#include "common/schema_test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static const char *const fragments[] = {
    "/",
    "//",
    "~",
    "~/",
    ".",
    "..",
    "/..",
    "%",
    "%4",
    "%41",
    "%zz",
    ":",
    "::",
    "[",
    "]",
    "*",
    "*.",
    ".*",
    "a",
    "Z",
    "0",
    "9",
    "65536",
    "-",
    "_",
    "@",
    "host",
    "Host",
    "http",
    "https",
    "grpc",
    "tcp",
    "\xc3\xa9",
    "\xe2\x82\xac",
    " ",
    ",",
    "(",
    ")",
    "?",
    "#",
    "-----BEGIN CERTIFICATE-----",
    "1.2.3.4",
    "::1",
    "[::1]:80",
    "x.test",
    "://",
    "http://",
    "redis",
    "header",
    "cookie",
};

static json_t *random_string(void)
{
    char buf[256];
    size_t n = 0;
    int parts = (int)(rnd() % 8);
    for (int i = 0; i < parts; i++) {
        const char *f = fragments[rnd() % (sizeof(fragments) / sizeof(fragments[0]))];
        size_t l = strlen(f);
        if (n + l >= sizeof(buf))
            break;
        memcpy(buf + n, f, l);
        n += l;
    }
    buf[n] = '\0';
    json_t *s = json_string(buf);
    return s != NULL ? s : json_string("x");
}

static json_t *random_value(int depth);

static json_t *random_object(int depth)
{
    static const char *const keys[] = {
        "id",        "name",    "host",          "port",     "path",        "protocol",
        "protocols", "paths",   "hosts",         "methods",  "headers",     "snis",
        "config",    "active",  "passive",       "healthy",  "unhealthy",   "http_statuses",
        "minute",    "second",  "policy",        "redis",    "strategy",    "target",
        "upstream",  "service", "consumer",      "route",    "certificate", "tags",
        "url",       "hash_on", "hash_fallback", "username", "custom_id",   "key",
        "cert",      "weight",  "healthchecks",  "sources",  "ip",          "limit_by",
    };
    json_t *o = json_object();
    int n = (int)(rnd() % 5);
    for (int i = 0; i < n; i++)
        json_object_set_new(o, keys[rnd() % (sizeof(keys) / sizeof(keys[0]))],
                            random_value(depth + 1));
    return o;
}

static json_t *random_value(int depth)
{
    switch (rnd() % (depth > 3 ? 6 : 9)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd() % 2);
    case 2:
        return json_integer((json_int_t)(rnd() % 70000) - 100);
    case 3:
        return json_real((double)(rnd() % 1000) / 7.0);
    case 4:
    case 5:
        return random_string();
    case 6:
    case 7: {
        json_t *a = json_array();
        int n = (int)(rnd() % 4);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default:
        return random_object(depth);
    }
}

/* Seeds each object with a plausible base so random values reach the deeper checks. */
static json_t *base_for(const char *entity)
{
    if (strcmp(entity, "services") == 0)
        return tj("{\"host\":\"x\"}");
    if (strcmp(entity, "routes") == 0)
        return tj("{\"paths\":[\"/\"]}");
    if (strcmp(entity, "upstreams") == 0)
        return tj("{\"name\":\"u\"}");
    if (strcmp(entity, "targets") == 0)
        return tj("{\"target\":\"a\",\"upstream\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}");
    if (strcmp(entity, "consumers") == 0)
        return tj("{\"username\":\"c\"}");
    if (strcmp(entity, "plugins") == 0) {
        static const char *const names[] = {"key-auth", "rate-limiting", "proxy-cache"};
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(names[rnd() % 3]));
        return p;
    }
    return json_object();
}

static void check_consistent(enum gw_err r, json_t *out, json_t *err)
{
    if (r == GW_OK) {
        assert_non_null(out);
        assert_null(err);
        assert_true(json_is_object(out));
        assert_non_null(json_object_get(out, "id"));
    } else {
        assert_int_equal(r, GW_ERR_INVALID);
        assert_null(out);
        assert_true(json_is_object(err));
        assert_true(json_object_size(err) > 0);
        json_t *body = gw_schema_error_body(err);
        const char *msg = json_string_value(json_object_get(body, "message"));
        assert_non_null(msg);
        assert_true(strstr(msg, "schema violation") != NULL);
        json_decref(body);
    }
}

static void random_inputs(void **state)
{
    (void)state;
    const char *const *entities = gw_schema_entities();
    int ok = 0, invalid = 0;
    for (int iter = 0; iter < 3000; iter++) {
        const char *entity = entities[rnd() % 10];
        const struct gw_schema *s = gw_schema_get(entity);
        json_t *in = base_for(entity);
        json_t *extra = random_object(0);
        json_object_update(in, extra);
        json_decref(extra);
        if (rnd() % 3 == 0)
            gw_schema_coerce_form(s, in);
        json_t *out = NULL, *err = NULL;
        enum gw_err r = gw_schema_process(s, GW_SCHEMA_INSERT, in, NULL, &out, &err);
        check_consistent(r, out, err);
        if (r == GW_OK)
            ok++;
        else
            invalid++;
        if (r == GW_OK) {
            /* a processed entity validates as stored, and can be patched and replaced */
            json_t *verr = NULL;
            assert_int_equal(gw_schema_validate(s, out, &verr), GW_OK);
            json_t *patch = random_object(0), *p = NULL, *perr = NULL;
            r = gw_schema_process(s, GW_SCHEMA_UPDATE, patch, out, &p, &perr);
            check_consistent(r, p, perr);
            json_decref(p);
            json_decref(perr);
            r = gw_schema_process(s, GW_SCHEMA_UPSERT, patch, out, &p, &perr);
            check_consistent(r, p, perr);
            json_decref(p);
            json_decref(perr);
            json_decref(patch);
        }
        json_decref(out);
        json_decref(err);
        json_decref(in);
    }
    print_message("random inputs: %d accepted, %d rejected\n", ok, invalid);
    /* both outcomes must be exercised for this test to mean anything */
    assert_true(ok > 100);
    assert_true(invalid > 100);
}

static void random_stored_entities(void **state)
{
    (void)state;
    const char *const *entities = gw_schema_entities();
    for (int iter = 0; iter < 2000; iter++) {
        const struct gw_schema *s = gw_schema_get(entities[rnd() % 10]);
        json_t *e = random_object(0), *err = NULL;
        enum gw_err r = gw_schema_validate(s, e, &err);
        if (r != GW_OK) {
            assert_int_equal(r, GW_ERR_INVALID);
            assert_non_null(err);
            json_t *body = gw_schema_error_body(err);
            assert_non_null(json_string_value(json_object_get(body, "message")));
            json_decref(body);
        }
        json_decref(err);
        json_decref(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_inputs),
        cmocka_unit_test(random_stored_entities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
