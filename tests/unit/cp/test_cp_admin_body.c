/* tests/unit/cp/test_cp_admin_body.c: Admin API body decoding: JSON, form-urlencoded (dotted
 * keys, key[], key[n], repeated keys), multipart/form-data, and the 415/400 cases.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/cp_admin_body.h"

static void assert_json_eq(json_t *got, const char *want_text)
{
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", g, want_text);
        free(g);
        fail();
    }
    json_decref(want);
}

static json_t *decode_ok(const char *ct, const char *body, enum cp_admin_body_type want_type)
{
    json_t *out = NULL;
    enum cp_admin_body_type t;
    assert_int_equal(cp_admin_body_decode(ct, body, strlen(body), &out, &t), GW_OK);
    assert_int_equal(t, want_type);
    assert_non_null(out);
    return out;
}

static void test_json(void **state)
{
    (void)state;
    json_t *o = decode_ok("application/json", "{\"name\":\"a\",\"port\":8080}", CP_ADMIN_BODY_JSON);
    assert_json_eq(o, "{\"name\":\"a\",\"port\":8080}");
    json_decref(o);
    o = decode_ok("application/json; charset=utf-8", "  ", CP_ADMIN_BODY_JSON);
    assert_json_eq(o, "{}");
    json_decref(o);

    json_t *out = NULL;
    enum cp_admin_body_type t;
    assert_int_equal(cp_admin_body_decode("application/json", "{bad", 4, &out, &t), GW_ERR_INVALID);
    assert_null(out);
    assert_int_equal(cp_admin_body_decode("application/json", "[1,2]", 5, &out, &t),
                     GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_decode("Application/JSON", "{\"a\":1}", 7, &out, &t), GW_OK);
    json_decref(out);
}

static void test_content_types(void **state)
{
    (void)state;
    json_t *out = NULL;
    enum cp_admin_body_type t;
    assert_int_equal(cp_admin_body_decode("text/plain", "x", 1, &out, &t), GW_ERR_DECLINED);
    assert_int_equal(cp_admin_body_decode(NULL, "x=1", 3, &out, &t), GW_ERR_DECLINED);
    /* no body: any type (or none) is fine and gives {} */
    assert_int_equal(cp_admin_body_decode(NULL, "", 0, &out, &t), GW_OK);
    assert_json_eq(out, "{}");
    json_decref(out);
    assert_int_equal(cp_admin_body_decode("text/plain", "", 0, &out, &t), GW_OK);
    json_decref(out);
}

static void test_form(void **state)
{
    (void)state;
    json_t *o =
        decode_ok("application/x-www-form-urlencoded",
                  "name=my+svc&url=http%3A%2F%2Fx.test%2Fp&healthchecks.active.http_path=/st"
                  "&healthchecks.active.timeout=5&config.minute=5",
                  CP_ADMIN_BODY_FORM);
    assert_json_eq(o,
                   "{\"name\":\"my svc\",\"url\":\"http://x.test/p\",\"healthchecks\":{\"active\":"
                   "{\"http_path\":\"/st\",\"timeout\":\"5\"}},\"config\":{\"minute\":\"5\"}}");
    json_decref(o);

    o = decode_ok("application/x-www-form-urlencoded",
                  "hosts=a&hosts=b&paths[]=/x&paths[]=/y&"
                  "methods[2]=POST&methods[1]=GET&tags[]=one",
                  CP_ADMIN_BODY_FORM);
    assert_json_eq(o, "{\"hosts\":[\"a\",\"b\"],\"paths\":[\"/x\",\"/y\"],\"methods\":[\"GET\","
                      "\"POST\"],\"tags\":[\"one\"]}");
    json_decref(o);

    o = decode_ok("application/x-www-form-urlencoded",
                  "service.name=s1&config.key_names[]=k&x=", CP_ADMIN_BODY_FORM);
    assert_json_eq(o,
                   "{\"service\":{\"name\":\"s1\"},\"config\":{\"key_names\":[\"k\"]},\"x\":\"\"}");
    json_decref(o);

    /* a bad escape keeps the raw text; an empty key is ignored */
    o = decode_ok("application/x-www-form-urlencoded", "a=%zz&=1&&b", CP_ADMIN_BODY_FORM);
    assert_json_eq(o, "{\"a\":\"%zz\",\"b\":\"\"}");
    json_decref(o);

    /* not UTF-8 */
    json_t *out = NULL;
    enum cp_admin_body_type t;
    assert_int_equal(
        cp_admin_body_decode("application/x-www-form-urlencoded", "a=%ff", 5, &out, &t),
        GW_ERR_INVALID);
}

static void test_set_conflicts(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_int_equal(cp_admin_body_set(o, "a", json_string("x")), GW_OK);
    /* a.b would cross the scalar a */
    assert_int_equal(cp_admin_body_set(o, "a.b", json_string("y")), GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_set(o, ".a", json_string("y")), GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_set(o, "a.", json_string("y")), GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_set(o, "a[].b", json_string("y")), GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_set(o, "c[x]", json_string("y")), GW_OK);
    assert_json_eq(o, "{\"a\":\"x\",\"c\":{\"x\":\"y\"}}");
    json_decref(o);
}

static void test_multipart(void **state)
{
    (void)state;
    const char *body = "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"name\"\r\n\r\n"
                       "svc\r\n"
                       "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"tags[]\"\r\n\r\n"
                       "t1\r\n"
                       "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"tags[]\"\r\n"
                       "Content-Type: text/plain\r\n\r\n"
                       "t2\r\n"
                       "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"config.minute\"\r\n\r\n"
                       "5\r\n"
                       "--XyZ--\r\n";
    json_t *o = decode_ok("multipart/form-data; boundary=XyZ", body, CP_ADMIN_BODY_MULTIPART);
    assert_json_eq(o, "{\"name\":\"svc\",\"tags\":[\"t1\",\"t2\"],\"config\":{\"minute\":\"5\"}}");
    json_decref(o);

    o = decode_ok("multipart/form-data; boundary=\"q q\"",
                  "--q q\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--q q--",
                  CP_ADMIN_BODY_MULTIPART);
    assert_json_eq(o, "{\"a\":\"1\"}");
    json_decref(o);

    json_t *out = NULL;
    enum cp_admin_body_type t;
    const char *trunc = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
    assert_int_equal(
        cp_admin_body_decode("multipart/form-data; boundary=XyZ", trunc, strlen(trunc), &out, &t),
        GW_ERR_INVALID);
    assert_int_equal(cp_admin_body_decode("multipart/form-data", "x", 1, &out, &t), GW_ERR_INVALID);
    assert_int_equal(
        cp_admin_body_decode("multipart/form-data; boundary=XyZ", "garbage", 7, &out, &t),
        GW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),      cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_form),      cmocka_unit_test(test_set_conflicts),
        cmocka_unit_test(test_multipart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
